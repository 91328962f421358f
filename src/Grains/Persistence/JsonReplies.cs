using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Grains.Persistence;

/// <summary>Builders for the contract's error documents (<c>{"detail": ...}</c>, FastAPI style).</summary>
public static class JsonReplies
{
    public static string Detail(string message) => new JsonObject { ["detail"] = message }.ToJsonString();

    public static string Detail(string code, string message, JsonObject? extra = null)
    {
        var detail = new JsonObject { ["code"] = code, ["message"] = message };
        if (extra is not null)
            foreach (var (key, value) in extra)
                detail[key] = value?.DeepClone();
        return new JsonObject { ["detail"] = detail }.ToJsonString();
    }

    /// <summary>A 422 body listing field errors: <c>{"detail":[{"type","loc","msg"}]}</c>.</summary>
    public static string FieldErrors(IEnumerable<(string Location, string Message)> errors)
    {
        var list = new JsonArray();
        foreach (var (location, message) in errors)
        {
            var loc = new JsonArray();
            foreach (var part in location.Split('.', StringSplitOptions.RemoveEmptyEntries))
                loc.Add(part);
            list.Add(new JsonObject { ["type"] = "value_error", ["loc"] = loc, ["msg"] = message });
        }
        return new JsonObject { ["detail"] = list }.ToJsonString();
    }

    public static Reply Ok(JsonNode body) => new(ReplyStatus.Ok, body.ToJsonString());

    public static Reply NotFound(string message) => new(ReplyStatus.NotFound, Detail(message));

    public static Reply Invalid(string message) => new(ReplyStatus.Invalid, Detail(message));

    public static JsonObject? ParseObject(string? json) =>
        string.IsNullOrEmpty(json) ? null : JsonNode.Parse(json) as JsonObject;

    public static JsonNode? ParseOrNull(string? json)
    {
        if (string.IsNullOrEmpty(json))
            return null;
        try { return JsonNode.Parse(json); }
        catch (JsonException) { return null; }
    }
}
