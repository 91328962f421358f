using System.Text.Json.Nodes;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Executions.Aggregate;

// What the execution answers about itself; read paths are redacted at the response boundary.
public sealed partial class ExecutionAggregate
{
    public ExecutionStatusReport Status()
    {
        var duration = ((_endTime ?? _context.Clock.UtcNow) - StartTime).TotalSeconds;
        // Step results by name, ctx and the workload, as NoETL exposes them: the playbook tool reads return_step here.
        var variables = Redactor.Redact(_state.BuildRenderContext());
        return new ExecutionStatusReport(ExecutionId, Catalog.Path, StatusText, _state.CurrentStep, [.. _state.CompletedSteps],
            Failed: StatusText is "FAILED", Completed: IsTerminal, _state.Error, JsonText.From(variables?.ToJsonString()),
            JsonText.From(FinalResult()?.ToJsonString()), WireTimes.Utc(StartTime), WireTimes.Utc(_endTime), Math.Round(duration, 3),
            Durations.Human(duration), ParentExecutionId);
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

    public CancellationState CancellationCheck() => new(ExecutionId, StatusText, _lastEventType);
}
