using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Npgsql;
using NoEtl.Worker.Runtime;
using NoEtl.Orchestration.Templates;
using NoEtl.Worker.Templates;

namespace NoEtl.Worker.Tools;

/// <summary>
/// Renders a command's tool config and runs it on the matching <see cref="ITool"/>. Failures of any kind become
/// error outcomes (never exceptions), so the command always ends with call.error/command.failed, not silence.
/// </summary>
public sealed class ToolExecutor
{
    // Evaluated after the tool ran, against its output; rendering them up front would freeze them too early.
    private static readonly string[] DeferredKeys = ["spec", "set"];

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
        if (!kind.Equals(_sequence.Kind, StringComparison.OrdinalIgnoreCase) && config["spec"]?["policy"]?["rules"] is JsonArray)
        {
            // As NoETL's Python engine does: a single tool with policy rules runs as a one-task pipeline,
            // but its outcome is the task's own (not a {name: data} map).
            var task = (JsonObject)config.DeepClone();
            task["kind"] = kind;
            task["name"] = context.Step;
            var run = await _sequence.RunAsync([task], context, ct);
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

        JsonObject rendered;
        try
        {
            rendered = kind.Equals(_sequence.Kind, StringComparison.OrdinalIgnoreCase) ? config : Render(config, context.Variables);
        }
        catch (TemplateException ex)
        {
            return ToolOutcome.Failure($"template error: {ex.Reason}", kind: "template");
        }
        return await DispatchAsync(kind, rendered, context, ct);
    }

    private JsonObject Render(JsonObject config, JsonObject variables)
    {
        var rendered = new JsonObject();
        foreach (var (key, value) in config)
        {
            rendered[key] = DeferredKeys.Contains(key) ? value?.DeepClone() : _renderer.RenderValue(value, variables);
        }
        return rendered;
    }

    /// <summary>Runs an already-rendered config. Cancellation of <paramref name="ct"/> still propagates.</summary>
    private async Task<ToolOutcome> DispatchAsync(string kind, JsonObject config, ToolContext context, CancellationToken ct)
    {
        if (!_tools.TryGetValue(kind, out var tool))
        {
            return ToolOutcome.Failure($"unsupported tool kind '{kind}' (this worker runs: {string.Join(", ", _tools.Keys.Order())})", kind: "config");
        }
        try
        {
            return await tool.ExecuteAsync(config, context, ct);
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
}
