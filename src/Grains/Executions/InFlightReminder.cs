using Microsoft.Extensions.Logging;
using NoEtl.Grains.Hosting;

namespace NoEtl.Grains.Executions;

/// <summary>
/// The reaper's timer lives and dies with the activation: if its silo crashes, nothing calls the execution again and
/// its in-flight commands would never be swept. A persistent reminder closes that gap. It is registered lazily, once
/// commands have been in flight for NOETL_REMINDER_AFTER_SECONDS in this activation (short executions never pay the
/// reminder write), and removed when nothing is in flight any more. A tick only has to reach the grain: the activation
/// it causes rebuilds from the log and starts the sweep timer.
/// </summary>
public sealed class InFlightReminder(Grain grain, ServerOptions options, ILogger logger, long executionId)
{
    public const string Name = "in-flight-commands";

    private bool _registered;

    // Which sweep timer the clock belongs to: a new timer means commands went in flight afresh.
    private (IGrainTimer? Timer, DateTime Since) _inFlightClock;

    /// <summary>A tick arrived: the reminder exists.</summary>
    public void Ticked() => _registered = true;

    /// <summary>Called on every sweep: registers the reminder once commands have been in flight long enough.</summary>
    public async Task KeepAsync(IGrainTimer? reaper, DateTime now)
    {
        if (!ReferenceEquals(_inFlightClock.Timer, reaper))
            _inFlightClock = (reaper, now);
        if (_registered || now - _inFlightClock.Since < TimeSpan.FromSeconds(options.ReminderAfterSeconds))
            return;
        var period = TimeSpan.FromSeconds(options.ReminderPeriodSeconds);
        try
        {
            await grain.RegisterOrUpdateReminder(Name, period, period);
            _registered = true;
            ExecutionLogMessages.ReminderRegistered(logger, executionId);
        }
        catch (Exception e)
        {
            // The sweep itself must go on; the next sweep tries again.
            ExecutionLogMessages.ReminderNotRegistered(logger, e, executionId);
        }
    }

    /// <summary>Called when the last in-flight command finished (or the execution ended).</summary>
    public void NoLongerNeeded()
    {
        if (_registered)
            _ = ForgetAsync(); // runs on the grain's scheduler; a failure is retried by the next tick
    }

    public async Task ForgetAsync()
    {
        try
        {
            if (await grain.GetReminder(Name) is { } reminder)
                await grain.UnregisterReminder(reminder);
            _registered = false;
        }
        catch (Exception e)
        {
            ExecutionLogMessages.ReminderNotRemoved(logger, e, executionId);
        }
    }
}
