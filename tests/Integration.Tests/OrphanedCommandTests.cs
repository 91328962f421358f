using System.Net;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>
/// The reminder window (issue #17, scenario 7): a worker claims a command, its execution's silo is killed 5 s later
/// and the worker is gone too, long before any reminder would exist. The orphaned-command watch of the surviving silo
/// wakes the execution once the claim's lease ran out, its sweep notifies the command again, and a new worker finishes
/// the execution — with no call from anyone before the notification (the test reads the database until then).
/// </summary>
public sealed class OrphanedCommandTests : IAsyncLifetime
{
    private NoEtlSystem _system = null!;

    public async Task InitializeAsync() => _system = await NoEtlSystem.StartAsync(silos: 2, poolSize: 6, siloSettings: new()
    {
        ["NOETL_REMINDER_AFTER_SECONDS"] = "3600", // no reminder: only the watch can bring the execution back
        ["NOETL_COMMAND_CLAIM_LEASE_SECONDS"] = "5",
        ["NOETL_COMMAND_REAPER_INTERVAL_SECONDS"] = "1",
        ["NOETL_MEMBERSHIP_PROBE_TIMEOUT_SECONDS"] = "1",
        ["NOETL_MEMBERSHIP_MISSED_PROBES"] = "2",
    });

    public async Task DisposeAsync() => await _system.DisposeAsync();

    [Fact]
    public async Task A_command_claimed_on_a_silo_that_dies_with_its_worker_is_notified_again_and_finishes()
    {
        var path = $"tests/orphan_{Guid.NewGuid():N}";
        await _system.Http.Register(Playbooks.TwoSteps(path));
        var executionId = await _system.Http.Execute(path);
        var host = _system.Silos.Single(s => s.Output.Contains($"Execution {executionId} started", StringComparison.Ordinal));
        var issued = Assert.Single(await new SimulatedWorker(_system.Http, "w-doomed").PendingCommandEventsAsync(executionId));
        Assert.Equal(HttpStatusCode.OK, (await _system.Http.Claim(issued, "w-doomed")).Status);

        await Task.Delay(TimeSpan.FromSeconds(5)); // the scenario's window: the worker works, then silo and worker die
        host.Kill();
        var killedAt = DateTime.UtcNow;

        await Eventually.WaitForAsync(async () => await RenotifiedSinceAsync(executionId, killedAt) > 0,
            "command.renotified after the kill", TimeSpan.FromSeconds(60));
        Assert.Equal(0, await _system.AdminCountAsync(
            "SELECT count(*) FROM orleans.reminder WHERE grain_id ILIKE '%/' || $1", executionId.ToString("x")));

        // A new worker, told by the notification, takes the command over (the lease ran out) and finishes the execution.
        var rescuer = new SimulatedWorker(_system.Http, "w-rescuer");
        var claim = await _system.Http.Claim(issued, "w-rescuer");
        Assert.Equal(HttpStatusCode.OK, claim.Status);
        await rescuer.CompleteAsync(claim.Json, []);
        var status = await rescuer.RunToCompletionAsync(executionId, _ => [], TimeSpan.FromSeconds(30));
        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
    }

    private Task<long> RenotifiedSinceAsync(long executionId, DateTime since) => _system.AdminCountAsync(
        "SELECT count(*) FROM noetl.event WHERE execution_id = $1 AND event_type = 'command.renotified' AND created_at > $2",
        executionId, DateTime.SpecifyKind(since, DateTimeKind.Unspecified));
}
