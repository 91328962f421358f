using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using NoEtl.Grains.Commands;

namespace NoEtl.Grains.Executions;

// NoETL's command reaper, owned by the execution: while commands are in flight a timer (which also keeps the
// activation alive) looks for commands whose notification may be lost or whose holder vanished, and notifies
// workers again through a new outbox row. It never completes a command: the next claim arbitrates.
public sealed partial class ExecutionGrain
{
    private IGrainTimer? _reaper;

    private void TrackInFlightCommands()
    {
        var inFlight = !IsTerminal && _commands.Values.Any(c => !c.IsTerminal);
        if (inFlight && _reaper is null)
        {
            var period = TimeSpan.FromSeconds(options.CommandReaperIntervalSeconds);
            _reaper = this.RegisterGrainTimer(SweepAsync, new GrainTimerCreationOptions(period, period) { KeepAlive = true });
        }
        else if (!inFlight && _reaper is not null)
        {
            _reaper.Dispose();
            _reaper = null;
            ReminderNoLongerNeeded();
        }
    }

    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        var now = DateTime.UtcNow;
        await KeepReminderAsync(now);
        var turn = new Turn();
        var renotified = new List<CommandRecord>();
        foreach (var command in _commands.Values.Where(c => !c.IsTerminal))
        {
            var holder = command.WorkerId is { } worker && ClaimPolicy.NeedsHolderLiveness(command, "", now, options)
                ? await ReadLivenessAsync(worker)
                : null;
            if (ClaimPolicy.RenotifyReason(command, now, options, holder) is not { } reason)
                continue;
            var row = new EventRow(NextEventId(), "command.renotified", command.Step, command.ToolKind, command.Status,
                new JsonObject { ["command_id"] = command.CommandId, ["reason"] = reason },
                null,
                new JsonObject { ["command_id"] = command.CommandId, ["reason"] = reason, ["worker_id"] = command.WorkerId, ["actionable"] = false, ["informative"] = true },
                null, null, command.CommandId, command.EventId, ExecutionLog.NowUtc());
            turn.Events.Add(row);
            turn.Outbox.Add(new OutboxRow(row.EventId, Subject, Notification(command)));
            Fold(row);
            renotified.Add(command);
            LogRenotified(ExecutionId, command.CommandId, reason);
        }
        if (turn.Events.Count == 0)
            return;
        turn.Execution = Projection();
        if (await CommitAsync(turn) is null)
            renotified.ForEach(c => c.NotifiedAt = now);
    }

    private string Subject => $"{options.CommandSubject}.{Pool}.{ExecutionId}";

    /// <summary>The NATS notification of NoETL's contract (§1.4); re-notifications repeat the original event id.</summary>
    private JsonObject Notification(CommandRecord command) => new()
    {
        ["execution_id"] = ExecutionId,
        ["event_id"] = command.EventId,
        ["command_id"] = command.CommandId,
        ["step"] = command.Step,
        ["server_url"] = options.ServerUrl,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId}: command {CommandId} notified again ({Reason})")]
    private partial void LogRenotified(long executionId, long commandId, string reason);
}
