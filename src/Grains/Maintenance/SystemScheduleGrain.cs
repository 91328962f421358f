using Microsoft.Extensions.Logging;
using NoEtl.Grains.Hosting;

namespace NoEtl.Grains.Maintenance;

/// <summary>
/// Starts <c>system/scheduled_cleanup</c> every <c>NOETL_CLEANUP_INTERVAL_SECONDS</c> as the server itself: user
/// pools cannot start system playbooks, so retention must not depend on anyone calling it.
/// </summary>
public sealed partial class SystemScheduleGrain(ServerOptions options, ILogger<SystemScheduleGrain> logger)
    : Grain, ISystemScheduleGrain, IRemindable
{
    public const string CleanupPath = "system/scheduled_cleanup";

    // The interval is part of the name: a silo started with another interval replaces the reminder, while silos
    // restarting with the same one leave its due time alone (re-registering would postpone every run).
    private const string CleanupReminderPrefix = "scheduled-cleanup-";

    private string CleanupReminder => $"{CleanupReminderPrefix}{options.CleanupIntervalSeconds}s";

    public async Task Ensure()
    {
        var existing = await this.GetReminders();
        foreach (var stale in existing.Where(r => r.ReminderName.StartsWith(CleanupReminderPrefix, StringComparison.Ordinal) && r.ReminderName != CleanupReminder))
            await this.UnregisterReminder(stale);
        if (options.CleanupIntervalSeconds > 0 && existing.All(r => r.ReminderName != CleanupReminder))
        {
            var period = TimeSpan.FromSeconds(options.CleanupIntervalSeconds);
            await this.RegisterOrUpdateReminder(CleanupReminder, period, period);
        }
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (!reminderName.StartsWith(CleanupReminderPrefix, StringComparison.Ordinal))
            return;
        var outcome = await GrainFactory.Reference<IExecutionDirectoryGrain>(0).Execute(new StartExecution(CleanupPath, null, null, "{}", null), null);
        if (outcome.Failure is { } failure)
            LogNotStarted(CleanupPath, failure.Kind);
        else
            LogStarted(CleanupPath);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scheduled run of {Path} started")]
    private partial void LogStarted(string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scheduled run of {Path} was not started: {Kind}")]
    private partial void LogNotStarted(string path, FailureKind kind);
}
