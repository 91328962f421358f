using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Npgsql;
using NoEtl.Worker.Runtime;
using NoEtl.Orchestration.Templates;
using NoEtl.Worker.Templates;

namespace NoEtl.Worker.Tools;

/// <summary>
/// Runs a command's tool config on the matching <see cref="ITool"/>. The server rendered the config once; the worker
/// renders only what the server defers to it (<c>keychain.*</c> templates, pipeline tasks, task policies, and python
/// args that still hold a template), never the rendered output again. Failures of any kind become error outcomes
/// (never exceptions), so the command always ends with call.error/command.failed, not silence; so does a tool whose
/// result reports <c>status: error|failed</c>, as NoETL's worker treats it.
/// </summary>
public sealed class ToolExecutor
{
    // Evaluated after the tool ran, against its output; rendering them up front would freeze them too early.
    private static readonly string[] DeferredKeys = ["spec", "set"];

    private static readonly string[] FailedStatuses = ["error", "failed"];

    private readonly Dictionary<string, ITool> _tools;
    private readonly ITemplateRenderer _renderer;
    private readonly TaskSequenceTool _sequence;
    private readonly ILogger<ToolExecutor> _logger;

    public ToolExecutor(IEnumerable<ITool> tools, ITemplateRenderer renderer, ILogger<ToolExecutor> logger)
    {
        _renderer = renderer;
        _logger = logger;
        _sequence = new TaskSequenceTool(renderer, DispatchAsync);
        _tools = tools.ToDictionary(t => t.Kind, StringComparer.OrdinalIgnoreCase);
        _tools[_sequence.Kind] = _sequence;
    }

    public async Task<ToolOutcome> ExecuteAsync(string kind, JsonObject config, ToolContext context, CancellationToken ct)
    {
        if (kind.Equals(_sequence.Kind, StringComparison.OrdinalIgnoreCase))
        {
            return await DispatchAsync(kind, config, context, ct);
        }

        JsonObject rendered;
        try
        {
            rendered = RenderDeferred(config, context.Variables);
        }
        catch (TemplateException ex)
        {
            return ToolOutcome.Failure($"template error: {ex.Reason}", kind: "template");
        }

        if (rendered["spec"]?["policy"]?["rules"] is JsonArray)
        {
            // A server that does not wrap a single tool with policy rules into a task_sequence (NoETL's server does)
            // still gets them applied: a one-task pipeline whose outcome is the task's own (not a {name: data} map).
            var task = (JsonObject)rendered.DeepClone();
            task["kind"] = kind;
            task["name"] = context.Step;
            var run = await _sequence.RunAsync([task], context, ct, renderTasks: false);
            var last = run.Last ?? ToolOutcome.Failure(run.Error ?? "no outcome");
            var data = last.Data?.DeepClone();
            if (run.ContextUpdates.Count > 0)
            {
                data = data as JsonObject ?? new JsonObject { ["data"] = data };
                data["_context_updates"] = run.ContextUpdates.DeepClone();
            }
            return run.Ok
                ? ToolOutcome.Success(data, last.Http)
                : ToolOutcome.Failure(run.Error ?? last.Error?.Message ?? "failed", data, last.Error?.Kind ?? "policy", last.Error?.Retryable ?? false, last.Error?.Code, last.Http);
        }
        return await DispatchAsync(kind, rendered, context, ct);
    }

    /// <summary>
    /// Renders the <c>keychain.*</c> templates the server left in a rendered config (and <c>secrets.*</c>, the worker's
    /// other name for its keychain); everything else is kept as is.
    /// </summary>
    private JsonObject RenderDeferred(JsonObject config, JsonObject variables)
    {
        var rendered = new JsonObject();
        foreach (var (key, value) in config)
        {
            rendered[key] = DeferredKeys.Contains(key) ? value?.DeepClone() : RenderKeychain(value, variables);
        }
        return rendered;
    }

    private JsonNode? RenderKeychain(JsonNode? node, JsonObject variables) => node switch
    {
        JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(p.Key, RenderKeychain(p.Value, variables)))),
        JsonArray array => new JsonArray(array.Select(item => RenderKeychain(item, variables)).ToArray()),
        JsonValue text when text.GetValueKind() == JsonValueKind.String && text.GetValue<string>() is var template
            && Template.IsTemplate(template) && (template.Contains("keychain.", StringComparison.Ordinal) || template.Contains("secrets.", StringComparison.Ordinal))
            => _renderer.RenderValue(text, variables),
        _ => node?.DeepClone(),
    };

    /// <summary>Runs an already-rendered config. Cancellation of <paramref name="ct"/> still propagates.</summary>
    private async Task<ToolOutcome> DispatchAsync(string kind, JsonObject config, ToolContext context, CancellationToken ct)
    {
        if (!_tools.TryGetValue(kind, out var tool))
        {
            return ToolOutcome.Failure($"unsupported tool kind '{kind}' (this worker runs: {string.Join(", ", _tools.Keys.Order())})", kind: "config");
        }
        try
        {
            var outcome = await tool.ExecuteAsync(config, context, ct);
            return outcome.Ok && outcome.Data is JsonObject data && FailedStatuses.Contains(data.Str("status")?.ToLowerInvariant())
                ? ToolOutcome.Failure(ReportedError(data), data, kind: "tool", http: outcome.Http)
                : outcome;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (ToolConfigException ex)
        {
            return ToolOutcome.Failure(ex.Message, kind: "config");
        }
        catch (CredentialException ex)
        {
            return ToolOutcome.Failure(ex.Message, kind: "auth");
        }
        catch (TemplateException ex)
        {
            return ToolOutcome.Failure($"template error: {ex.Reason}", kind: "template");
        }
        catch (NpgsqlException ex)
        {
            return ToolOutcome.Failure(ex.Message, kind: "postgres", retryable: ex.IsTransient, code: (ex as PostgresException)?.SqlState);
        }
        catch (Exception ex)
        {
            _logger.LogWarning(ex, "Tool {Kind} threw", kind);
            return ToolOutcome.Failure($"{ex.GetType().Name}: {ex.Message}", kind: "exception");
        }
    }

    private static string ReportedError(JsonObject data)
    {
        var detail = data["error"] is { } error ? ConfigExtensions.Text(error) : data.Str("message");
        return string.IsNullOrWhiteSpace(detail) ? $"tool reported status '{data.Str("status")}'" : detail;
    }
}
