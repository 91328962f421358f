using System.Text.Json.Nodes;

namespace NoEtl.Worker.Tools;

/// <summary>One tool kind (<c>tool.kind</c> in the DSL). The config arrives already rendered.</summary>
public interface ITool
{
    string Kind { get; }

    Task<ToolOutcome> ExecuteAsync(JsonObject config, ToolContext context, CancellationToken ct);
}

/// <summary>What a tool needs to know about the command it runs, plus the template variables.</summary>
public sealed class ToolContext
{
    public required long ExecutionId { get; init; }
    public required string CommandId { get; init; }
    public required string Step { get; init; }

    public JsonObject Input { get; init; } = [];

    /// <summary>Template variables: render_context, input bindings, keychain, ids.</summary>
    public JsonObject Variables { get; init; } = [];

    public ToolContext WithVariables(JsonObject variables) => new()
    {
        ExecutionId = ExecutionId,
        CommandId = CommandId,
        Step = Step,
        Input = Input,
        Variables = variables,
    };
}

/// <summary>Why a tool failed, in the shape task policies see as <c>output.error</c>.</summary>
public sealed record ToolError(string Message, string Kind = "error", bool Retryable = false, string? Code = null);

/// <summary>
/// A tool's result. A failed outcome may still carry data (an HTTP 500 body, a script's stdout) so that
/// task policies can inspect it; the command fails only if the policy (or its absence) says so.
/// </summary>
public sealed record ToolOutcome(bool Ok, JsonNode? Data, ToolError? Error = null, JsonObject? Http = null)
{
    public static ToolOutcome Success(JsonNode? data, JsonObject? http = null) => new(true, data, null, http);

    public static ToolOutcome Failure(string message, JsonNode? data = null, string kind = "error", bool retryable = false, string? code = null, JsonObject? http = null) =>
        new(false, data, new ToolError(message, kind, retryable, code), http);

    /// <summary>The <c>output</c> view that policy rules evaluate: {status: ok|error, data, error, http}.</summary>
    public JsonObject ToPolicyView()
    {
        var view = new JsonObject
        {
            ["status"] = Ok ? "ok" : "error",
            ["data"] = Data?.DeepClone(),
        };
        if (Error is { } e)
        {
            view["error"] = new JsonObject
            {
                ["kind"] = e.Kind,
                ["retryable"] = e.Retryable,
                ["code"] = e.Code,
                ["message"] = e.Message,
            };
        }
        if (Http is not null)
        {
            view["http"] = Http.DeepClone();
        }
        return view;
    }

    /// <summary>
    /// The call.done <c>result.context</c>, which carries the whole tool result. The server reads a step's result from
    /// <c>context.data</c> when there is one (the Rust worker's envelope), else from <c>context</c>: so a mapping is
    /// sent as is unless it has a <c>data</c> key of its own, which would hide its siblings; then, like any other
    /// value, it goes under <c>data</c>.
    /// </summary>
    public JsonObject ContextObject() => Data switch
    {
        JsonObject obj when !obj.ContainsKey("data") => (JsonObject)obj.DeepClone(),
        _ => new JsonObject { ["data"] = Data?.DeepClone() },
    };
}

/// <summary>A tool config problem (missing url, unknown kind): the command fails without retry.</summary>
public sealed class ToolConfigException(string message) : Exception(message);
