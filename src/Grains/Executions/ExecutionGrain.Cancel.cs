using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using NoEtl.Grains.Executions.Aggregate;
using NoEtl.Grains.Persistence;

namespace NoEtl.Grains.Executions;

// Cancellation. The aggregate's cancel turn records in execution.cancelled that the children are owed a cancel
// (ExecutionAggregate.OwedCascade). The cascade runs after the commit and may fail (a child's silo or the database
// away), so it is retried until every child answered: by a repeated cancel, by a timer while this activation lives,
// and by the next activation, which finds the owed cascade in the log.
public sealed partial class ExecutionGrain
{
    private static readonly TimeSpan FirstCascadeRetry = TimeSpan.FromSeconds(1);

    private IGrainTimer? _cascadeRetry;
    private TimeSpan _cascadeDelay = FirstCascadeRetry;

    public async Task<Reply> Cancel(string reason, bool cascade)
    {
        if (_aggregate is not { } execution)
            return JsonReplies.NotFound("Execution not found");
        var decision = execution.Cancel(reason, cascade, Caller.Current);
        if (decision.Turn is not null && await CommitAsync(decision.Turn) is { } failure)
            return failure;
        var cascaded = execution.OwedCascade is null ? [] : await CascadeAsync(execution);
        if (!decision.AlreadyFinished)
            LogCancelled(ExecutionId, cascaded.Count + 1);
        return execution.CancelReply(decision, cascaded);
    }

    /// <summary>
    /// Cancels every child (each cascades on to its own, durably); answers the executions this call cancelled. The
    /// cascade is settled once every child answered; otherwise a retry is scheduled, backing off to the reaper interval.
    /// </summary>
    private async Task<JsonArray> CascadeAsync(ExecutionAggregate execution)
    {
        var cancelled = new JsonArray();
        var settled = true;
        try
        {
            foreach (var child in await _log.ReadChildrenAsync())
            {
                var reply = await GrainFactory.Reference<IExecutionGrain>(child).Cancel(execution.OwedCascade!, cascade: true);
                settled &= reply.Status == ReplyStatus.Ok;
                if (reply.Status == ReplyStatus.Ok && JsonNode.Parse(reply.Body)?["cancelled_executions"] is JsonArray nested)
                    foreach (var id in nested)
                        cancelled.Add(id?.DeepClone());
            }
        }
        catch (Exception e)
        {
            settled = false;
            LogCascadeFailed(e, ExecutionId);
        }
        if (settled)
        {
            execution.CascadeSettled();
            _cascadeRetry?.Dispose();
            (_cascadeRetry, _cascadeDelay) = (null, FirstCascadeRetry);
        }
        else
        {
            ScheduleCascadeRetry();
        }
        return cancelled;
    }

    private void ScheduleCascadeRetry()
    {
        if (_cascadeRetry is null)
        {
            _cascadeRetry = this.RegisterGrainTimer(RetryCascadeAsync,
                new GrainTimerCreationOptions(_cascadeDelay, _cascadeDelay) { KeepAlive = true });
            return;
        }
        var ceiling = TimeSpan.FromSeconds(options.CommandReaperIntervalSeconds);
        _cascadeDelay = _cascadeDelay * 2 < ceiling ? _cascadeDelay * 2 : ceiling;
        _cascadeRetry.Change(_cascadeDelay, _cascadeDelay);
    }

    private async Task RetryCascadeAsync(CancellationToken cancellationToken)
    {
        if (_aggregate is { OwedCascade: not null } execution)
            await CascadeAsync(execution);
    }

    /// <summary>On activation: an owed cascade is retried if some descendant is still running, else it is settled.</summary>
    private async Task ResumeCascadeAsync()
    {
        if (_aggregate is not { OwedCascade: not null } execution)
            return;
        if (await _log.HasRunningDescendantsAsync())
            ScheduleCascadeRetry();
        else
            execution.CascadeSettled();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId} cancelled ({Count} including children)")]
    private partial void LogCancelled(long executionId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId}: cancelling its children failed; retrying until every child is terminal")]
    private partial void LogCascadeFailed(Exception exception, long executionId);
}
