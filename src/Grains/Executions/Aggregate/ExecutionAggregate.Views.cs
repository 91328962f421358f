using System.Text.Json.Nodes;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Executions.Aggregate;

// What the execution answers about itself; read paths are redacted at the response boundary.
public sealed partial class ExecutionAggregate
{
    public Reply Status()
    {
        var duration = ((_endTime ?? _context.Clock.UtcNow) - StartTime).TotalSeconds;
        var completedSteps = new JsonArray();
        foreach (var step in _state.CompletedSteps)
            completedSteps.Add(step);
        return JsonReplies.Ok(new JsonObject
        {
            ["execution_id"] = ExecutionId.ToString(),
            ["path"] = Catalog.Path,
            ["status"] = StatusText,
            ["current_step"] = _state.CurrentStep,
            ["completed_steps"] = completedSteps,
            ["failed"] = StatusText is "FAILED",
            ["completed"] = IsTerminal,
            ["completion_inferred"] = false,
            ["error"] = _state.Error,
            // Step results by name, ctx and the workload, as NoETL exposes them: the playbook tool reads return_step here.
            ["variables"] = Redactor.Redact(_state.BuildRenderContext()),
            ["result"] = FinalResult(),
            ["start_time"] = WireTimes.Utc(StartTime),
            ["end_time"] = WireTimes.Utc(_endTime),
            ["duration_seconds"] = Math.Round(duration, 3),
            ["duration_human"] = Durations.Human(duration),
            ["parent_execution_id"] = ParentExecutionId?.ToString(),
        });
    }

    /// <summary>
    /// What a completed execution produced, as NoETL's status reports it: the result of the step that finished last
    /// (redacted like every read path). Null while running, and for failed or cancelled executions (see <c>error</c>).
    /// </summary>
    public JsonNode? FinalResult()
    {
        if (StatusText != "COMPLETED")
            return null;
        var last = _state.Steps.Values.Where(s => s.Status == StepStatus.Completed).MaxBy(s => s.FinishedAt);
        return Redactor.Redact(last?.Result?.DeepClone());
    }

    public Reply CancellationCheck()
    {
        var status = StatusText;
        return JsonReplies.Ok(new JsonObject
        {
            ["execution_id"] = ExecutionId.ToString(),
            ["status"] = status,
            ["event_type"] = _lastEventType,
            ["cancelled"] = status == "CANCELLED",
            ["completed"] = status == "COMPLETED",
            ["failed"] = status == "FAILED",
        });
    }
}
