using Microsoft.Extensions.Logging;

namespace NoEtl.Grains.Executions;

// The reaper's timer lives and dies with the activation: if its silo crashes, nothing calls the execution again
// and its in-flight commands would never be swept. A persistent reminder closes that gap. It is registered
// lazily, once commands have been in flight for NOETL_REMINDER_AFTER_SECONDS in this activation (short
// executions never pay the reminder write), and removed when nothing is in flight any more. A tick only has to
// reach the grain: the activation it causes rebuilds from the log and starts the sweep timer.
public sealed partial class ExecutionGrain : IRemindable
{
    private const string InFlightReminder = "in-flight-commands";

    private bool _reminderRegistered;

    // Which sweep timer the clock belongs to: a new timer means commands went in flight afresh.
    private (IGrainTimer? Timer, DateTime Since) _inFlightClock;

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != InFlightReminder)
            return;
        _reminderRegistered = true;
        if (!Exists || IsTerminal || _commands.Values.All(c => c.IsTerminal))
            await ForgetReminderAsync();
    }

    /// <summary>Called on every sweep: registers the reminder once commands have been in flight long enough.</summary>
    private async Task KeepReminderAsync(DateTime now)
    {
        if (!ReferenceEquals(_inFlightClock.Timer, _reaper))
            _inFlightClock = (_reaper, now);
        if (_reminderRegistered || now - _inFlightClock.Since < TimeSpan.FromSeconds(options.ReminderAfterSeconds))
            return;
        var period = TimeSpan.FromSeconds(options.ReminderPeriodSeconds);
        try
        {
            await this.RegisterOrUpdateReminder(InFlightReminder, period, period);
            _reminderRegistered = true;
            LogReminderRegistered(ExecutionId);
        }
        catch (Exception e)
        {
            // The sweep itself must go on; the next sweep tries again.
            LogReminderNotRegistered(e, ExecutionId);
        }
    }

    /// <summary>Called when the last in-flight command finished (or the execution ended).</summary>
    private void ReminderNoLongerNeeded()
    {
        if (_reminderRegistered)
            _ = ForgetReminderAsync(); // runs on the grain's scheduler; a failure is retried by the next tick
    }

    private async Task ForgetReminderAsync()
    {
        try
        {
            if (await this.GetReminder(InFlightReminder) is { } reminder)
                await this.UnregisterReminder(reminder);
            _reminderRegistered = false;
        }
        catch (Exception e)
        {
            LogReminderNotRemoved(e, ExecutionId);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Execution {ExecutionId}: commands in flight for long, reminder registered")]
    private partial void LogReminderRegistered(long executionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId}: reminder not registered; the next sweep retries")]
    private partial void LogReminderNotRegistered(Exception exception, long executionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId}: reminder not removed; the next tick retries")]
    private partial void LogReminderNotRemoved(Exception exception, long executionId);
}
