using System.Text.Json.Nodes;

namespace NoEtl.Grains.Executions;

/// <summary>NoETL's rules for turning a posted worker event into a stored row (noetl-api.md §1.1 (3)).</summary>
public static class WorkerEvents
{
    private static readonly HashSet<string> ResultKeys = ["status", "reference", "context", "command_id"];

    public const int MaxErrorLength = 2000;
    public const int MaxResultContextBytes = 102_400;

    /// <summary>Returns a message when the payload breaks the reference-only rules; null when it is acceptable.</summary>
    public static string? Validate(JsonObject payload)
    {
        if (payload.ContainsKey("_internal_data"))
            return "payload must not contain '_internal_data'";
        if (!payload.TryGetPropertyValue("result", out var result) || result is null)
            return null;
        if (result is not JsonObject resultObject)
            return "payload.result must be an object";
        var unknown = resultObject.Select(p => p.Key).Where(k => !ResultKeys.Contains(k)).ToList();
        if (unknown.Count > 0)
            return $"payload.result may only contain status, reference, context, command_id; found {string.Join(", ", unknown)}";
        foreach (var key in new[] { "reference", "context" })
            if (resultObject[key] is { } value and not JsonObject)
                return $"payload.result.{key} must be an object";
        return null;
    }

    /// <summary>
    /// An inline result past <see cref="MaxResultContextBytes"/> (<c>payload.result.context</c>, or a <c>payload.response</c>):
    /// refused with a message that points at the result store. Such results used to be accepted and silently dropped from
    /// the stored result while the whole payload still fed every later command. A payload within the cap is not measured again.
    /// </summary>
    public static string? InlineTooLarge(string payloadJson, JsonObject payload)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(payloadJson) <= MaxResultContextBytes)
            return null;
        foreach (var (field, value) in new[] { ("payload.result.context", payload["result"]?["context"]), ("payload.response", payload["response"]) })
        {
            if (value is null)
                continue;
            var bytes = System.Text.Encoding.UTF8.GetByteCount(value.ToJsonString());
            if (bytes > MaxResultContextBytes)
                return $"{field} is {bytes} bytes; inline results may have at most {MaxResultContextBytes}. Store the result with "
                    + "PUT /api/result/{execution_id} and send {\"status\": ..., \"reference\": {\"kind\": \"result_ref\", \"ref\": ..., \"store\": ..., \"scope\": ...}} instead";
        }
        return null;
    }

    /// <summary>The result-store ref of a worker payload's <c>result_ref</c> reference, if it carries one.</summary>
    public static string? ResultRef(JsonObject? payload) =>
        NoEtl.Orchestration.Engine.ExecutionState.ResultReference(payload?["result"])?["ref"] is JsonValue value && value.TryGetValue<string>(out var text)
            ? text
            : null;

    /// <summary>NoETL's <c>_status_from_event_name</c>.</summary>
    public static string StatusFromName(string name) =>
        name.Contains("error") || name.Contains("failed") ? "FAILED"
        : name.Contains("done") || name.Contains("exit") || name.Contains("completed") ? "COMPLETED"
        : "RUNNING";

    /// <summary>The first numeric command id among the places NoETL looks.</summary>
    public static long? CommandId(JsonObject payload, JsonObject? meta) =>
        new[]
        {
            payload["command_id"], meta?["command_id"], payload["context"]?["command_id"],
            payload["result"]?["command_id"], payload["result"]?["context"]?["command_id"],
        }.Select(WireIds.Read).FirstOrDefault(id => id is not null);

    /// <summary>The stored reference-only result <c>{status, reference?, context?}</c> (chk_event_result_shape).</summary>
    public static JsonObject? BuildResult(JsonObject payload, string eventStatus)
    {
        var source = payload["result"] as JsonObject;
        if (source is null)
            return null;
        var result = new JsonObject { ["status"] = NormalizeStatus(source["status"], eventStatus) };
        if (source["reference"] is JsonObject reference)
            result["reference"] = reference.DeepClone();
        if (source["context"] is JsonObject context)
            result["context"] = context.DeepClone(); // within MaxResultContextBytes: larger ones are refused (InlineTooLarge)
        return result;
    }

    /// <summary>The first of <c>payload.error</c> / <c>payload.result.error</c>, as text, truncated.</summary>
    public static string? Error(JsonObject payload)
    {
        var node = payload["error"] ?? payload["result"]?["error"] ?? payload["result"]?["context"]?["error"];
        var text = node switch
        {
            null => null,
            JsonObject o when o["message"] is JsonValue m => m.ToString(),
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            _ => node.ToJsonString(),
        };
        return text is { Length: > MaxErrorLength } ? text[..MaxErrorLength] : text;
    }

    private static string NormalizeStatus(JsonNode? status, string fallback)
    {
        var text = status is JsonValue v && v.TryGetValue<string>(out var s) ? s : fallback;
        return text.ToUpperInvariant() switch
        {
            "OK" or "SUCCESS" => "COMPLETED",
            "ERROR" or "FAILED" => "FAILED",
            var other => other,
        };
    }
}
