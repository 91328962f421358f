using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests.Faults;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultCollection
{
    public const string Name = "fault scenarios";
}

/// <summary>
/// The fault suite: real silo, gateway, worker, NATS and PostgreSQL processes, a fault injected mid-run, and a
/// ledger check of every execution and command at the end (0 lost, 0 duplicated effects, 0 stuck). Each scenario
/// exists twice: <c>Fault</c> (full size, scripts/fault-suite.sh) and <c>FaultReduced</c> (small N, part of the
/// default test run). Figures go to .run/fault-results/; docs/reliability.md records the last full run.
/// Scenarios run one at a time (2 cores): their figures would mean little while sharing the CPU.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class FaultTests
{
    /// <summary>Faster failure detection: a dead silo is declared after ~2 missed 1 s probes instead of 3 × 5 s.</summary>
    private static readonly Dictionary<string, string> TunedMembership = new()
    {
        ["NOETL_MEMBERSHIP_PROBE_TIMEOUT_SECONDS"] = "1",
        ["NOETL_MEMBERSHIP_MISSED_PROBES"] = "2",
    };

    // ---- kill -9 one of three silos ----

    [Fact, Trait("Category", "Fault")]
    public Task Silo_kill_default_membership() => SiloKillAsync("silo kill -9 (default probes)", 200, 10, [], recoveryBound: 10);

    [Fact, Trait("Category", "Fault")]
    public Task Silo_kill_tuned_membership() => SiloKillAsync("silo kill -9 (tuned probes)", 200, 10, TunedMembership, recoveryBound: 10);

    [Fact, Trait("Category", "FaultReduced")]
    public Task Silo_kill_reduced() => SiloKillAsync("reduced: silo kill -9 (tuned probes)", 40, 8, TunedMembership, recoveryBound: null);

    /// <param name="recoveryBound">Checked in full runs only: a reduced run may finish its work before throughput could recover.</param>
    private static async Task SiloKillAsync(string scenario, int executions, int steps, Dictionary<string, string> settings, double? recoveryBound)
    {
        await using var system = await NoEtlSystem.StartAsync(silos: 3, poolSize: 8, siloSettings: settings);
        var gateways = await GatewaysAsync(system, 2);
        var driver = new LoadDriver(gateways, TimeSpan.FromMilliseconds(20));
        var path = $"tests/chain_{Guid.NewGuid():N}";
        await system.Http.Register(FaultRun.ChainPlaybook(path, steps));
        var ids = await driver.StartExecutionsAsync(path, executions);
        var report = await FaultRun.RunAsync(scenario, system, ids, steps, executions,
            deadline => driver.RunAsync(ids, executions, deadline),
            () =>
            {
                system.Silos[1].Kill(); // not the first: its gateway port is the one clients know best
                return Task.CompletedTask;
            },
            TimeSpan.FromMinutes(4), clientErrors: () => driver.Errors);
        FaultRun.AssertClean(report, system);
        if (recoveryBound is { } bound)
            Assert.True(report.RecoverySeconds is { } r && r <= bound, $"{scenario}: recovery {report.RecoverySeconds} s > {bound} s\n{report.Row()}");
        Dispose(gateways);
    }

    // ---- the silos' PostgreSQL backends terminated (pg_terminate_backend) ----

    [Fact, Trait("Category", "Fault")]
    public Task Backends_terminated() => BackendsTerminatedAsync("pg_terminate_backend of the silos", 200, 16);

    [Fact, Trait("Category", "FaultReduced")]
    public Task Backends_terminated_reduced() => BackendsTerminatedAsync("reduced: pg_terminate_backend of the silos", 40, 6);

    private static async Task BackendsTerminatedAsync(string scenario, int executions, int steps)
    {
        await using var system = await NoEtlSystem.StartAsync(silos: 3, poolSize: 8);
        var gateways = await GatewaysAsync(system, 1);
        var driver = new LoadDriver(gateways, TimeSpan.FromMilliseconds(20));
        var path = $"tests/chain_{Guid.NewGuid():N}";
        await system.Http.Register(FaultRun.ChainPlaybook(path, steps));
        var ids = await driver.StartExecutionsAsync(path, executions);
        var report = await FaultRun.RunAsync(scenario, system, ids, steps, executions,
            deadline => driver.RunAsync(ids, executions, deadline),
            () => TerminateSiloBackendsAsync(system.Database.AdminConnectionString),
            TimeSpan.FromMinutes(3), clientErrors: () => driver.Errors);
        FaultRun.AssertClean(report, system);
        Dispose(gateways);
    }

    // ---- PostgreSQL restarted (a dedicated cluster: other tests share the default server) ----

    [Fact, Trait("Category", "Fault")]
    public Task Postgres_restart() => PostgresRestartAsync("PostgreSQL restart (dedicated cluster, 5 s down)", 200, 10, TimeSpan.FromSeconds(5));

    [Fact, Trait("Category", "FaultReduced")]
    public Task Postgres_restart_reduced() => PostgresRestartAsync("reduced: PostgreSQL restart (dedicated cluster, 2 s down)", 30, 6, TimeSpan.FromSeconds(2));

    private static async Task PostgresRestartAsync(string scenario, int executions, int steps, TimeSpan down)
    {
        await using var postgres = await DedicatedPostgres.StartAsync();
        await using var system = await NoEtlSystem.StartAsync(silos: 2, poolSize: 8, adminConnectionString: postgres.AdminConnectionString);
        var gateways = await GatewaysAsync(system, 1);
        var driver = new LoadDriver(gateways, TimeSpan.FromMilliseconds(20));
        var path = $"tests/chain_{Guid.NewGuid():N}";
        await system.Http.Register(FaultRun.ChainPlaybook(path, steps));
        var ids = await driver.StartExecutionsAsync(path, executions);
        var unavailable = 0;
        var report = await FaultRun.RunAsync(scenario, system, ids, steps, executions,
            deadline => driver.RunAsync(ids, executions, deadline),
            async () =>
            {
                await postgres.StopAsync("immediate");
                // While it is down the API answers 503 db_unavailable with Retry-After, quickly.
                var started = DateTime.UtcNow;
                var response = await gateways[0].Get("/api/executions?page_size=1"); // a read that needs the database
                if ((int)response.Status == 503 && response.Raw.Headers.RetryAfter is not null
                    && response.Json["detail"]?["code"]?.GetValue<string>() is "db_unavailable" or "pool_saturated"
                    && DateTime.UtcNow - started < TimeSpan.FromSeconds(10))
                    unavailable++;
                await Task.Delay(down);
                await postgres.StartServerAsync();
            },
            TimeSpan.FromMinutes(4), clientErrors: () => driver.Errors);
        FaultRun.AssertClean(report, system);
        Assert.Equal(1, unavailable);
        Dispose(gateways);
    }

    // ---- 500 simulated workers against 3 silos: connections stay bounded by the pools ----

    [Fact, Trait("Category", "Fault")]
    public Task Five_hundred_workers() => ManyWorkersAsync("500 simulated workers, 3 silos", 500, 4);

    [Fact, Trait("Category", "FaultReduced")]
    public Task Many_workers_reduced() => ManyWorkersAsync("reduced: 100 simulated workers, 3 silos", 100, 3);

    private static async Task ManyWorkersAsync(string scenario, int workers, int steps)
    {
        await using var system = await NoEtlSystem.StartAsync(silos: 3, poolSize: 6);
        var gateways = await GatewaysAsync(system, 2);
        var driver = new LoadDriver(gateways, TimeSpan.Zero);
        var path = $"tests/chain_{Guid.NewGuid():N}";
        await system.Http.Register(FaultRun.ChainPlaybook(path, steps));
        var ids = await driver.StartExecutionsAsync(path, workers);
        var report = await FaultRun.RunAsync(scenario, system, ids, steps, workers,
            deadline => driver.RunAsync(ids, workers, deadline),
            () => Task.CompletedTask, TimeSpan.FromMinutes(4), clientErrors: () => driver.Errors);
        FaultRun.AssertClean(report, system);
        Dispose(gateways);
    }

    // ---- reference workers over NATS: worker kill, publisher kill, NATS restart ----

    [Fact, Trait("Category", "Fault")]
    public Task Worker_kill() => ReferenceWorkersAsync("worker kill -9 mid-command", 200, 5, KillSharedWorker);

    [Fact, Trait("Category", "FaultReduced")]
    public Task Worker_kill_reduced() => ReferenceWorkersAsync("reduced: worker kill -9 mid-command", 30, 4, KillSharedWorker);

    [Fact, Trait("Category", "Fault")]
    public Task Publisher_kill() => ReferenceWorkersAsync("system-pool publisher kill -9 mid-batch", 200, 5, KillPublisher);

    [Fact, Trait("Category", "FaultReduced")]
    public Task Publisher_kill_reduced() => ReferenceWorkersAsync("reduced: system-pool publisher kill -9 mid-batch", 30, 4, KillPublisher);

    [Fact, Trait("Category", "Fault")]
    public Task Nats_restart() => ReferenceWorkersAsync("NATS restart", 200, 5, RestartNats);

    [Fact, Trait("Category", "FaultReduced")]
    public Task Nats_restart_reduced() => ReferenceWorkersAsync("reduced: NATS restart", 30, 4, RestartNats);

    private static async Task ReferenceWorkersAsync(string scenario, int executions, int steps, Func<NoEtlSystem, Task> fault)
    {
        await using var system = await NoEtlSystem.StartAsync(silos: 2, poolSize: 8, withNats: true, siloSettings: new()
        {
            // Short leases and sweeps, so a dead worker's command is notified again within seconds.
            ["NOETL_COMMAND_CLAIM_LEASE_SECONDS"] = "3",
            ["NOETL_COMMAND_WORKER_HEARTBEAT_STALE_SECONDS"] = "2",
            ["NOETL_COMMAND_REAPER_INTERVAL_SECONDS"] = "1",
            ["NOETL_COMMAND_REAPER_PENDING_RETRY_SECONDS"] = "5",
            ["NOETL_OUTBOX_VISIBILITY_TIMEOUT_SECONDS"] = "3",
        });
        await system.StartWorkerAsync("system", "system-worker-1");
        await system.StartWorkerAsync("shared", "shared-worker-1");
        await system.StartWorkerAsync("shared", "shared-worker-2");
        var path = $"tests/chain_{Guid.NewGuid():N}";
        await system.Http.Register(FaultRun.ChainPlaybook(path, steps));
        var driver = new LoadDriver([system.Http], TimeSpan.Zero);
        var ids = await driver.StartExecutionsAsync(path, executions);
        var admin = system.Database.AdminConnectionString;
        var report = await FaultRun.RunAsync(scenario, system, ids, steps, workers: 2,
            deadline => FaultRun.WaitTerminalAsync(admin, ids, deadline),
            () => fault(system), TimeSpan.FromMinutes(4));
        FaultRun.AssertClean(report, system);
    }

    private static async Task KillSharedWorker(NoEtlSystem system)
    {
        var victim = system.Workers.First(w => w.Name == "shared-worker-1");
        victim.Kill();
        system.Workers.Remove(victim);
        await victim.DisposeAsync();
    }

    private static async Task KillPublisher(NoEtlSystem system)
    {
        var victim = system.Workers.First(w => w.Name == "system-worker-1");
        victim.Kill();
        system.Workers.Remove(victim);
        await victim.DisposeAsync();
        // A replacement publisher; the dead one's IN_FLIGHT rows come back after the visibility timeout.
        await system.StartWorkerAsync("system", "system-worker-2");
    }

    private static async Task RestartNats(NoEtlSystem system)
    {
        await system.StopNatsAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));
        await system.StartNatsAsync();
    }

    // ---- helpers ----

    private static async Task TerminateSiloBackendsAsync(string adminConnectionString)
    {
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name LIKE 'noetl-silo%'
            """, connection);
        await command.ExecuteScalarAsync();
    }

    /// <summary>The system's gateway plus <paramref name="count"/> - 1 more: a gateway knows no grain locations.</summary>
    private static async Task<List<HttpClient>> GatewaysAsync(NoEtlSystem system, int count)
    {
        var clients = new List<HttpClient> { Client(system.GatewayUrl) };
        for (var i = 1; i < count; i++)
        {
            var (_, url) = await system.StartGatewayAsync(NoEtlSystem.InternalToken);
            clients.Add(Client(url));
        }
        return clients;
    }

    // A call lost with a killed silo is only noticed when it times out, so the workers' timeout bounds recovery.
    private static HttpClient Client(string url) => new(new RoleAwareTokens()) { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(5) };

    private static void Dispose(List<HttpClient> clients) => clients.ForEach(c => c.Dispose());
}
