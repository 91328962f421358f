using Microsoft.Extensions.Logging;
using NoEtl.Grains.Commands;

namespace NoEtl.Grains.Executions;

// NoETL's command reaper, owned by the execution: while commands are in flight a timer (which also keeps the
// activation alive) asks the aggregate for the commands whose notification may be lost or whose holder vanished
// (ExecutionAggregate.Sweep), and commits their re-notifications. A persistent reminder (InFlightReminder) brings the
// execution back if its silo crashes while commands are in flight.
public sealed partial class ExecutionGrain : IRemindable
{
    private IGrainTimer? _reaper;
    private InFlightReminder _reminder = null!;

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != InFlightReminder.Name)
            return;
        _reminder.Ticked();
        if (_aggregate is not { HasCommandsInFlight: true })
            await _reminder.ForgetAsync();
    }

    private void TrackInFlightCommands()
    {
        var inFlight = _aggregate is { HasCommandsInFlight: true };
        if (inFlight && _reaper is null)
        {
            var period = TimeSpan.FromSeconds(options.CommandReaperIntervalSeconds);
            _reaper = this.RegisterGrainTimer(SweepAsync, new GrainTimerCreationOptions(period, period) { KeepAlive = true });
        }
        else if (!inFlight && _reaper is not null)
        {
            _reaper.Dispose();
            _reaper = null;
            _reminder.NoLongerNeeded();
        }
    }

    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        var execution = _aggregate!;
        var now = DateTime.UtcNow;
        await _reminder.KeepAsync(_reaper, now);
        var holders = new Dictionary<string, HolderLiveness?>();
        foreach (var worker in execution.HoldersToSweep(now))
            holders[worker] = await _log.ReadLivenessAsync(worker);
        var sweep = execution.Sweep(now, holders);
        foreach (var (commandId, reason) in sweep.Renotified)
            LogRenotified(ExecutionId, commandId, reason);
        if (sweep.Turn is not null)
            await CommitAsync(sweep.Turn);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId}: command {CommandId} notified again ({Reason})")]
    private partial void LogRenotified(long executionId, long commandId, string reason);
}
