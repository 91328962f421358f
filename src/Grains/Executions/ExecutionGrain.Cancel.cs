using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using NoEtl.Grains.Audit;
using NoEtl.Grains.Persistence;

namespace NoEtl.Grains.Executions;

// Cancellation. The cancel turn writes execution.cancelled, whose meta.cascade records that the children are owed a
// cancel, and marks the open commands CANCELLED. The cascade itself runs after the commit and may fail (a child's
// silo or the database away), so it is retried until every child is terminal: by a repeated cancel, by a timer
// while this activation lives, and by the next activation, which finds the owed cascade in the log.
public sealed partial class ExecutionGrain
{
    private static readonly string[] TerminalStatuses = ["COMPLETED", "FAILED", "CANCELLED"];

    /// <summary>A cascade the log says is owed and that has not yet reached every child.</summary>
    private sealed class OwedCascade(string reason)
    {
        public string Reason { get; } = reason;
        public IGrainTimer? Retry { get; set; }
        public TimeSpan Delay { get; set; } = TimeSpan.FromSeconds(1);
    }

    private OwedCascade? _cascade;

    public async Task<Reply> Cancel(string reason, bool cascade)
    {
        if (!Exists)
            return JsonReplies.NotFound("Execution not found");
        if (IsTerminal)
        {
            // NoETL's answer, but a cancelled execution first runs its cascade again: an earlier one may have failed.
            if (StatusText == "CANCELLED" && (cascade || _cascade is not null))
                _cascade ??= new OwedCascade(reason);
            var nested = _cascade is null ? new JsonArray() : await CascadeAsync();
            return JsonReplies.Ok(new JsonObject
            {
                ["status"] = "already_completed",
                ["execution_id"] = ExecutionId.ToString(),
                ["cancelled_executions"] = nested,
                ["message"] = $"Execution {ExecutionId} already finished ({StatusText})",
            });
        }

        var turn = new Turn();
        var now = ExecutionLog.NowUtc();
        var row = new EventRow(NextEventId(), "execution.cancelled", "cancel", null, "CANCELLED", null,
            new JsonObject { ["status"] = "CANCELLED" },
            new JsonObject { ["reason"] = reason, ["cancelled_by"] = "api", ["cascade"] = cascade, ["actionable"] = true },
            reason, null, null, null, now);
        turn.Events.Add(row);
        // Open commands end with the execution: none stays PENDING for ever, and retention purges them.
        foreach (var command in _commands.Values.Where(c => !c.IsTerminal))
        {
            command.Status = "CANCELLED";
            command.CompletedAt ??= now;
            turn.CommandChanges.Add(new CommandChange(command.CommandId, "CANCELLED", null, null, null, now, null, null, row.EventId));
        }
        turn.Audit.Add(AuditLog.Entry("execution.cancel", "ok", _catalog!.Path, ExecutionId, new JsonObject { ["reason"] = reason, ["cascade"] = cascade }));
        Fold(row);
        turn.Execution = Projection();
        var failure = await CommitAsync(turn);
        if (failure is not null)
            return failure;

        var cancelled = new JsonArray { ExecutionId.ToString() };
        if (_cascade is not null)
            foreach (var id in await CascadeAsync())
                cancelled.Add(id?.DeepClone());
        LogCancelled(ExecutionId, cancelled.Count);
        return JsonReplies.Ok(new JsonObject
        {
            ["status"] = "cancelled",
            ["execution_id"] = ExecutionId.ToString(),
            ["cancelled_executions"] = cancelled,
            ["message"] = $"Cancelled {cancelled.Count} execution(s)",
        });
    }

    /// <summary>
    /// Cancels every child (each cascades on to its own, durably); answers the executions this call cancelled. The
    /// cascade is settled once every child answered; otherwise a retry is scheduled, backing off to the reaper interval.
    /// </summary>
    private async Task<JsonArray> CascadeAsync()
    {
        var cascade = _cascade!;
        var cancelled = new JsonArray();
        var settled = true;
        try
        {
            foreach (var child in await ChildrenAsync())
            {
                var reply = await GrainFactory.Reference<IExecutionGrain>(child).Cancel(cascade.Reason, cascade: true);
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
            cascade.Retry?.Dispose();
            _cascade = null;
        }
        else
        {
            ScheduleCascadeRetry(cascade);
        }
        return cancelled;
    }

    private void ScheduleCascadeRetry(OwedCascade cascade)
    {
        if (cascade.Retry is null)
        {
            cascade.Retry = this.RegisterGrainTimer(RetryCascadeAsync,
                new GrainTimerCreationOptions(cascade.Delay, cascade.Delay) { KeepAlive = true });
            return;
        }
        var ceiling = TimeSpan.FromSeconds(options.CommandReaperIntervalSeconds);
        cascade.Delay = cascade.Delay * 2 < ceiling ? cascade.Delay * 2 : ceiling;
        cascade.Retry.Change(cascade.Delay, cascade.Delay);
    }

    private async Task RetryCascadeAsync(CancellationToken cancellationToken)
    {
        if (_cascade is not null)
            await CascadeAsync();
    }

    /// <summary>On activation: an owed cascade is retried if some descendant is still running, else it is settled.</summary>
    private async Task ResumeCascadeAsync()
    {
        if (_cascade is null)
            return;
        await using var command = database.CreateCommand(
            """
            WITH RECURSIVE descendant AS (
                SELECT execution_id, status FROM noetl.execution WHERE parent_execution_id = $1
                UNION ALL
                SELECT x.execution_id, x.status FROM noetl.execution x JOIN descendant d ON x.parent_execution_id = d.execution_id
            )
            SELECT EXISTS (SELECT 1 FROM descendant WHERE status <> ALL ($2))
            """);
        command.Parameters.AddWithValue(ExecutionId);
        command.Parameters.AddWithValue(TerminalStatuses);
        if ((bool)(await command.ExecuteScalarAsync())!)
            ScheduleCascadeRetry(_cascade);
        else
            _cascade = null;
    }

    private async Task<List<long>> ChildrenAsync()
    {
        await using var command = database.CreateCommand("SELECT execution_id FROM noetl.execution WHERE parent_execution_id = $1");
        command.Parameters.AddWithValue(ExecutionId);
        var children = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            children.Add(reader.GetInt64(0));
        return children;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId} cancelled ({Count} including children)")]
    private partial void LogCancelled(long executionId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId}: cancelling its children failed; retrying until every child is terminal")]
    private partial void LogCascadeFailed(Exception exception, long executionId);
}
