using Microsoft.Extensions.Logging;
using NoEtl.Grains.Hosting;

namespace NoEtl.Grains.Executions;

/// <summary>
/// The reaper: while commands are in flight a grain timer sweeps them (<see cref="Track"/>). The timer lives and dies
/// with the activation: if its silo crashes, nothing calls the execution again and its in-flight commands would never
/// be swept. A persistent reminder closes that gap. It is registered lazily, once commands have been in flight for
/// NOETL_REMINDER_AFTER_SECONDS in this activation (short executions never pay the reminder write), and removed when
/// nothing is in flight any more. A tick only has to reach the grain: the activation it causes rebuilds from the log
/// and starts the sweep timer.
/// </summary>
public sealed class InFlightReminder(Grain grain, ServerOptions options, ILogger logger, long executionId)
{
    public const string Name = "in-flight-commands";

    private bool _registered;
    private IGrainTimer? _reaper;

    // Which sweep timer the clock belongs to: a new timer means commands went in flight afresh.
    private (IGrainTimer? Timer, DateTime Since) _inFlightClock;

    /// <summary>Starts the sweep timer when commands are in flight, stops it and the reminder when none are any more.</summary>
    public void Track(bool inFlight, Func<CancellationToken, Task> sweep)
    {
        if (inFlight && _reaper is null)
        {
            var period = TimeSpan.FromSeconds(options.CommandReaperIntervalSeconds);
            _reaper = grain.RegisterGrainTimer(sweep, new GrainTimerCreationOptions(period, period) { KeepAlive = true });
        }
        else if (!inFlight && _reaper is not null)
        {
            _reaper.Dispose();
            _reaper = null;
            NoLongerNeeded();
        }
    }

    /// <summary>A tick arrived: the reminder exists.</summary>
    public void Ticked() => _registered = true;

    /// <summary>Called on every sweep: registers the reminder once commands have been in flight long enough.</summary>
    public async Task KeepAsync(DateTime now)
    {
        if (!ReferenceEquals(_inFlightClock.Timer, _reaper))
            _inFlightClock = (_reaper, now);
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
    private void NoLongerNeeded()
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
