using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using NoEtl.Grains.Executions.Aggregate;
using NoEtl.Grains.Hosting;

namespace NoEtl.Grains.Executions;

/// <summary>
/// Runs the cancel an execution owes its children (<see cref="ExecutionAggregate.OwedCascade"/>, recorded in its
/// <c>execution.cancelled</c>). The cascade runs after the cancel's commit and may fail (a child's silo or the database
/// away), so it is retried until every child answered: by a repeated cancel, by a timer while the activation lives
/// (backing off to the reaper interval), and by the next activation, which finds the owed cascade in the log.
/// </summary>
public sealed class ChildCascade(Grain grain, IGrainFactory grains, ExecutionLog log, ServerOptions options, ILogger logger)
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);

    private IGrainTimer? _retry;
    private TimeSpan _delay = FirstRetry;

    /// <summary>Cancels every child (each cascades on to its own, durably); answers the executions this call cancelled.</summary>
    public async Task<List<string>> RunAsync(ExecutionAggregate execution)
    {
        var cancelled = new List<string>();
        var settled = true;
        try
        {
            foreach (var child in await log.ReadChildrenAsync())
            {
                var outcome = await grains.Reference<IExecutionGrain>(child).Cancel(execution.OwedCascade!, cascade: true);
                settled &= outcome.Value is not null;
                if (outcome.Value is { } nested)
                    cancelled.AddRange(nested.CancelledExecutions);
            }
        }
        catch (Exception e)
        {
            settled = false;
            ExecutionLogMessages.CascadeFailed(logger, e, execution.ExecutionId);
        }
        if (settled)
        {
            execution.CascadeSettled();
            _retry?.Dispose();
            (_retry, _delay) = (null, FirstRetry);
        }
        else
        {
            ScheduleRetry(execution);
        }
        return cancelled;
    }

    /// <summary>On activation: an owed cascade is retried if some descendant is still running, else it is settled.</summary>
    public async Task ResumeAsync(ExecutionAggregate execution)
    {
        if (execution.OwedCascade is null)
            return;
        if (await log.HasRunningDescendantsAsync())
            ScheduleRetry(execution);
        else
            execution.CascadeSettled();
    }

    private void ScheduleRetry(ExecutionAggregate execution)
    {
        if (_retry is null)
        {
            _retry = grain.RegisterGrainTimer(
                _ => execution.OwedCascade is null ? Task.CompletedTask : RunAsync(execution),
                new GrainTimerCreationOptions(_delay, _delay) { KeepAlive = true });
            return;
        }
        var ceiling = TimeSpan.FromSeconds(options.CommandReaperIntervalSeconds);
        _delay = _delay * 2 < ceiling ? _delay * 2 : ceiling;
        _retry.Change(_delay, _delay);
    }
}
