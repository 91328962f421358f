using System.Text.Json.Nodes;
using NoEtl.Worker.Runtime;

namespace NoEtl.Worker.Tools;

/// <summary>
/// <c>kind: playbook</c>: starts a child execution with <c>POST /api/execute {path, payload, parent_execution_id}</c>.
/// Fire-and-forget by default ({status: started, execution_id, async: true}); with <c>return_step</c> or
/// <c>return_result: true</c> it polls <c>GET /api/executions/{id}/status</c> until the child ends and returns its
/// result, and a failed child fails this command.
/// </summary>
public sealed class PlaybookTool(ServerClient server) : ITool
{
    public string Kind => "playbook";

    public async Task<ToolOutcome> ExecuteAsync(JsonObject config, ToolContext context, CancellationToken ct)
    {
        var request = new JsonObject
        {
            ["payload"] = (config["payload"] ?? config["workload"] ?? config["input"] ?? config["args"] ?? new JsonObject()).DeepClone(),
            ["parent_execution_id"] = context.ExecutionId,
        };
        if (config.Str("path") is { Length: > 0 } path)
        {
            request["path"] = path;
        }
        else if (config["catalog_id"] is { } catalogId)
        {
            request["catalog_id"] = catalogId.DeepClone();
        }
        else
        {
            throw new ToolConfigException("playbook tool requires 'path' or 'catalog_id'");
        }
        if (config["version"] is { } version)
        {
            request["version"] = version.DeepClone();
        }

        var started = await server.PostWithRetryAsync(server.Url("/api/execute"), request, ct);
        if (!started.IsSuccess || WorkerJson.ReadId(started.Body?["execution_id"]) is not { } childId)
        {
            return ToolOutcome.Failure($"starting child playbook failed with HTTP {started.Status}", started.Body?.DeepClone(), kind: "playbook", retryable: started.IsTransient);
        }

        var returnStep = config.Str("return_step") ?? config.Str("result_step");
        if (returnStep is null && !config.Flag("return_result"))
        {
            return ToolOutcome.Success(new JsonObject { ["status"] = "started", ["execution_id"] = childId.ToString(System.Globalization.CultureInfo.InvariantCulture), ["async"] = true });
        }
        return await WaitForChildAsync(childId, returnStep, config, context, ct);
    }

    private async Task<ToolOutcome> WaitForChildAsync(long childId, string? returnStep, JsonObject config, ToolContext context, CancellationToken ct)
    {
        var pollInterval = config.Number("poll_interval") is { } p && p > 0 ? TimeSpan.FromSeconds(p) : TimeSpan.FromSeconds(2);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(config.Timeout(TimeSpan.FromHours(1)));
        var url = server.Url($"/api/executions/{childId}/status?full=true");
        try
        {
            while (true)
            {
                var status = await server.GetWithRetryAsync(url, deadline.Token);
                if (status.IsSuccess && status.Body is JsonObject body)
                {
                    var failed = body["failed"] is JsonValue f && f.TryGetValue(out bool isFailed) && isFailed;
                    var completed = body["completed"] is JsonValue c && c.TryGetValue(out bool isCompleted) && isCompleted;
                    if (failed)
                    {
                        return ToolOutcome.Failure($"child execution {childId} failed", ChildResult(childId, body, returnStep), kind: "playbook");
                    }
                    if (completed)
                    {
                        return ToolOutcome.Success(ChildResult(childId, body, returnStep));
                    }
                }
                await Task.Delay(pollInterval, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return ToolOutcome.Failure($"child execution {childId} did not finish in time", new JsonObject { ["execution_id"] = childId.ToString(System.Globalization.CultureInfo.InvariantCulture) }, kind: "timeout");
        }
    }

    private static JsonObject ChildResult(long childId, JsonObject status, string? returnStep)
    {
        var variables = status["variables"] as JsonObject;
        var result = returnStep is not null && variables?[returnStep] is { } stepResult ? stepResult.DeepClone() : variables?.DeepClone();
        return new JsonObject
        {
            ["status"] = status["failed"] is JsonValue f && f.TryGetValue(out bool failed) && failed ? "failed" : "completed",
            ["execution_id"] = childId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["result"] = result,
        };
    }
}
