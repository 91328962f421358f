using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>
/// Re-notification survives the loss of the silo that hosted an execution: a command in flight long enough gets
/// its execution a persistent reminder, so after a kill -9 the execution is re-activated elsewhere and its sweep
/// notifies the command again — with no call from anyone (the test reads the database only).
/// </summary>
public sealed class ReminderTests : IAsyncLifetime
{
    private NoEtlSystem _system = null!;

    public async Task InitializeAsync() => _system = await NoEtlSystem.StartAsync(silos: 2, poolSize: 6, siloSettings: new()
    {
        ["NOETL_REMINDER_AFTER_SECONDS"] = "2",
        ["NOETL_REMINDER_PERIOD_SECONDS"] = "5",
        ["NOETL_COMMAND_REAPER_INTERVAL_SECONDS"] = "1",
        ["NOETL_COMMAND_REAPER_PENDING_RETRY_SECONDS"] = "3",
        ["NOETL_MEMBERSHIP_PROBE_TIMEOUT_SECONDS"] = "1",
        ["NOETL_MEMBERSHIP_MISSED_PROBES"] = "2",
    });

    public async Task DisposeAsync() => await _system.DisposeAsync();

    [Fact]
    public async Task A_long_in_flight_execution_is_swept_again_on_another_silo_after_its_silo_dies()
    {
        var path = $"tests/remind_{Guid.NewGuid():N}";
        await _system.Http.Register(Playbooks.OneStep(path));
        var executionId = await _system.Http.Execute(path);
        var host = _system.Silos.Single(s => s.Output.Contains($"Execution {executionId} started", StringComparison.Ordinal));

        // The command stays PENDING (nobody claims it): after 2 s in flight a sweep registers the reminder.
        await Eventually.WaitForAsync(async () => await RemindersAsync(executionId) > 0, "reminder registered", TimeSpan.FromSeconds(20));
        host.Kill();
        var killedAt = DateTime.UtcNow;

        // Nobody calls the execution; only the reminder can bring it back, on the surviving silo.
        await Eventually.WaitForAsync(async () => await RenotifiedSinceAsync(executionId, killedAt) > 0,
            "command.renotified after the kill", TimeSpan.FromSeconds(60));
        var survivor = _system.Silos.Single(s => s != host);
        Assert.Contains($"Execution {executionId}: command", survivor.Output);

        // Once the command completes, the reminder is removed.
        var claim = await new SimulatedWorker(_system.Http, "w-remind").RunToCompletionAsync(executionId, _ => [], TimeSpan.FromSeconds(30));
        Assert.Equal("COMPLETED", claim["status"]!.GetValue<string>());
        await Eventually.WaitForAsync(async () => await RemindersAsync(executionId) == 0, "reminder removed", TimeSpan.FromSeconds(20));
    }

    private Task<long> RemindersAsync(long executionId) => ScalarAsync(
        // Orleans keys an integer-keyed grain by the hexadecimal of its key: execution/<hex>.
        "SELECT count(*) FROM orleans.reminder WHERE reminder_name = 'in-flight-commands' AND grain_id ILIKE '%/' || $1",
        executionId.ToString("x"));

    private Task<long> RenotifiedSinceAsync(long executionId, DateTime since) => ScalarAsync(
        "SELECT count(*) FROM noetl.event WHERE execution_id = $1 AND event_type = 'command.renotified' AND created_at > $2",
        executionId, DateTime.SpecifyKind(since, DateTimeKind.Unspecified));

    private Task<long> ScalarAsync(string sql, params object[] parameters) => _system.AdminCountAsync(sql, parameters);
}
