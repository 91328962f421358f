using System.Globalization;
using NoEtl.Integration.Tests.Faults;
using NoEtl.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace NoEtl.Integration.Tests.Partition;

/// <summary>
/// Faults of a cluster of machines: every silo, gateway and PostgreSQL in its own network namespace
/// (<see cref="NetnsRig"/>), a time-based load of simulated workers, one fault, then the ledger. <c>Partition</c>:
/// the full scenarios (scripts/partition-suite.sh); <c>PartitionReduced</c>: one rig, a silo partitioned from the
/// others and then a silo killed, gating on no loss, no duplicate and recovery within 5 s. Needs root (namespaces).
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class PartitionTests(ITestOutputHelper output)
{
    /// <summary>The fast-failover settings of the Helm chart's values (docs/reliability.md explains each).</summary>
    private static readonly Dictionary<string, string> FastFailoverSilo = new()
    {
        ["NOETL_MEMBERSHIP_PROBE_TIMEOUT_SECONDS"] = "1",
        ["NOETL_MEMBERSHIP_MISSED_PROBES"] = "2",
        ["NOETL_MEMBERSHIP_MAX_PROBE_TIMEOUT_SECONDS"] = "1",
        ["NOETL_MEMBERSHIP_TABLE_REFRESH_SECONDS"] = "5",
        ["NOETL_DB_WATCHDOG_SECONDS"] = "5",
    };

    private static readonly Dictionary<string, string> FastFailoverGateway = new()
    {
        ["NOETL_FAILOVER_ATTEMPTS"] = "3",
        ["NOETL_FAILOVER_ATTEMPT_TIMEOUT_MS"] = "2000",
        ["NOETL_GATEWAY_LIST_REFRESH_SECONDS"] = "0.5",
    };

    private static readonly TimeSpan WorkerHttpTimeout = TimeSpan.FromSeconds(5);

    private const int Workers = 60;
    private const int Steps = 5;

    [Fact, Trait("Category", "Partition")]
    public async Task Silo_kill()
    {
        await using var cluster = await StartAsync();
        var report = await PartitionRun.RunAsync("silo kill -9 (1 of 3)", cluster, Workers, Steps, TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(15),
            () => KillAsync(cluster, 2), output.WriteLine);
        PartitionRun.AssertClean(report, cluster.System, silosTakenOut: 1);
    }

    [Fact, Trait("Category", "Partition")]
    public async Task Silo_partitioned_from_the_other_silos()
    {
        await using var cluster = await StartAsync();
        var report = await PartitionRun.RunAsync("silo partitioned from the silos (not from PostgreSQL)", cluster, Workers, Steps,
            TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(15), () => IsolateFromSilosAsync(cluster, 2), output.WriteLine);
        PartitionRun.AssertClean(report, cluster.System, silosTakenOut: 1);
        await AssertVotedOutAsync(cluster, 2);
    }

    /// <summary>
    /// Silo 2 cut from PostgreSQL only: the others still see it alive, so only its database watchdog can take it out
    /// (it asks a peer, which reaches the database, and stops); its executions continue on the others.
    /// </summary>
    [Fact, Trait("Category", "Partition")]
    public async Task Silo_partitioned_from_PostgreSQL()
    {
        await using var cluster = await StartAsync();
        var report = await PartitionRun.RunAsync("silo partitioned from PostgreSQL (not from the silos)", cluster, Workers, Steps,
            TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(15), () => cluster.Rig.CutAsync("silo2", "pg"), output.WriteLine);
        PartitionRun.AssertClean(report, cluster.System, silosTakenOut: 1);
        await Eventually.WaitForAsync(() => Task.FromResult(cluster.System.Silos[1].HasExited), "silo 2 to stop itself", TimeSpan.FromSeconds(60));
        Assert.Contains("stopping so that the others take over its executions", cluster.System.Silos[1].Output);
    }

    [Fact, Trait("Category", "Partition")]
    public async Task Gateway_kill()
    {
        await using var cluster = await StartAsync();
        var report = await PartitionRun.RunAsync("gateway kill -9 (1 of 2; workers use both)", cluster, Workers, Steps,
            TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(15), () =>
            {
                cluster.System.Gateways[1].Kill();
                return Task.CompletedTask;
            }, output.WriteLine);
        PartitionRun.AssertClean(report, cluster.System, silosTakenOut: 0);
    }

    /// <summary>No netem in the CI kernel (no delay): 5 % of the packets between every gateway and every silo dropped.</summary>
    [Fact, Trait("Category", "Partition")]
    public async Task Lossy_links_between_gateways_and_silos()
    {
        await using var cluster = await StartAsync();
        var report = await PartitionRun.RunAsync("5 % loss between gateways and silos", cluster, Workers, Steps,
            TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(15), async () =>
            {
                for (var gateway = 1; gateway <= 2; gateway++)
                {
                    for (var silo = 1; silo <= 3; silo++)
                        await cluster.Rig.LossyAsync($"gw{gateway}", $"silo{silo}", 5);
                }
            }, output.WriteLine);
        PartitionRun.AssertClean(report, cluster.System, silosTakenOut: 0);
    }

    /// <summary>
    /// 200 ms of round-trip latency (100 ms each way, through a relay: no netem in this kernel) and 5 % loss on every
    /// gateway→silo link. The gateways' open connections are reset when the relay is put in their path.
    /// </summary>
    [Fact, Trait("Category", "Partition")]
    public async Task Latency_and_loss_between_gateways_and_silos()
    {
        await using var cluster = await StartAsync();
        var report = await PartitionRun.RunAsync("200 ms latency and 5 % loss between gateways and silos", cluster, Workers, Steps,
            TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(15), async () =>
            {
                for (var gateway = 1; gateway <= 2; gateway++)
                {
                    for (var silo = 1; silo <= 3; silo++)
                    {
                        await cluster.Rig.DelayAsync($"gw{gateway}", $"silo{silo}", NoEtlSystem.RigSiloGatewayPort, 100);
                        await cluster.Rig.LossyAsync($"gw{gateway}", $"silo{silo}", 5);
                    }
                }
            }, output.WriteLine);
        PartitionRun.AssertClean(report, cluster.System, silosTakenOut: 0);
    }

    /// <summary>
    /// Scenario 6: a poison outbox row crashes every publisher that claims it. A visibility timeout of 3 s and a cap of
    /// 3 attempts keep the scenario short; everything else is published, the row is dead-lettered.
    /// </summary>
    [Fact, Trait("Category", "Partition")]
    public async Task Poison_outbox_row()
    {
        const int maxAttempts = 3;
        await using var cluster = await StartAsync(new()
        {
            ["NOETL_OUTBOX_VISIBILITY_TIMEOUT_SECONDS"] = "3",
            ["NOETL_OUTBOX_MAX_ATTEMPTS"] = maxAttempts.ToString(CultureInfo.InvariantCulture),
        });
        var poison = new PoisonOutboxRow(cluster, await RegisterChainAsync(cluster), maxAttempts, output.WriteLine);
        var report = await PartitionRun.RunAsync("poison outbox row (publishers crash on it; cap 3)", cluster, Workers, Steps,
            TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(15), poison.InjectAsync, output.WriteLine, poison);
        PartitionRun.AssertClean(report, cluster.System, silosTakenOut: 0);
    }

    /// <summary>
    /// Scenario 7: workers take a command and die, and 5 s later the silo of their execution is killed, with no reminder
    /// registered yet. A claim lease of 10 s (and the reaper every 2 s) keeps the scenario short.
    /// </summary>
    [Fact, Trait("Category", "Partition")]
    public async Task Silo_and_worker_killed_inside_the_reminder_window()
    {
        await using var cluster = await StartAsync(new()
        {
            ["NOETL_COMMAND_CLAIM_LEASE_SECONDS"] = "10",
            ["NOETL_COMMAND_REAPER_INTERVAL_SECONDS"] = "2",
        });
        var window = new ReminderWindow(cluster, await RegisterChainAsync(cluster), output.WriteLine);
        var report = await PartitionRun.RunAsync("silo + worker killed 5 s after a claim (reminder window)", cluster, Workers, Steps,
            TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(15), window.KillAsync, output.WriteLine, window);
        PartitionRun.AssertClean(report, cluster.System, silosTakenOut: 1);
    }

    /// <summary>One rig: silo 2 partitioned from the silos (voted out), then a fresh silo joins and silo 3 is killed.</summary>
    [Fact, Trait("Category", "PartitionReduced")]
    public async Task Reduced_partition_then_kill()
    {
        await using var cluster = await StartAsync();
        var partition = await PartitionRun.RunAsync("reduced: silo partitioned from the silos", cluster, 40, Steps,
            TimeSpan.FromSeconds(22), TimeSpan.FromSeconds(8), () => IsolateFromSilosAsync(cluster, 2), output.WriteLine);
        PartitionRun.AssertClean(partition, cluster.System, silosTakenOut: 1);
        await AssertVotedOutAsync(cluster, 2);

        await cluster.System.StartSiloAsync();
        var kill = await PartitionRun.RunAsync("reduced: silo kill -9", cluster, 40, Steps,
            TimeSpan.FromSeconds(22), TimeSpan.FromSeconds(8), () => KillAsync(cluster, 3), output.WriteLine);
        PartitionRun.AssertClean(kill, cluster.System, silosTakenOut: 2);
        foreach (var report in new[] { partition, kill })
            Assert.True(report.RecoverySeconds is { } r && r <= 5, $"{report.Scenario}: recovery {report.RecoverySeconds} s > 5 s\n{report.Row()}");
    }

    private static Task<PartitionCluster> StartAsync(Dictionary<string, string>? scenarioSettings = null) =>
        PartitionCluster.StartAsync(silos: 3, gateways: 2, new(FastFailoverSilo.Concat(scenarioSettings ?? [])), FastFailoverGateway, WorkerHttpTimeout);

    /// <summary>A chain playbook of the load's length for a scenario's own executions.</summary>
    private static async Task<string> RegisterChainAsync(PartitionCluster cluster)
    {
        var path = $"tests/chain_{Guid.NewGuid():N}";
        await cluster.System.Http.Register(FaultRun.ChainPlaybook(path, Steps));
        return path;
    }

    private static Task KillAsync(PartitionCluster cluster, int silo)
    {
        cluster.System.Silos[silo - 1].Kill();
        return Task.CompletedTask;
    }

    /// <summary>Cuts silo n from every other silo; it still reaches PostgreSQL and the gateways still reach it.</summary>
    private static async Task IsolateFromSilosAsync(PartitionCluster cluster, int silo)
    {
        for (var other = 1; other <= cluster.System.Silos.Count; other++)
        {
            if (other != silo)
                await cluster.Rig.CutAsync($"silo{silo}", $"silo{other}");
        }
    }

    /// <summary>The isolated silo is declared dead in the membership table (status 6) and stops itself.</summary>
    private static async Task AssertVotedOutAsync(PartitionCluster cluster, int silo)
    {
        var system = cluster.System;
        await Eventually.WaitForAsync(async () =>
            await system.AdminScalarAsync(
                "SELECT status FROM orleans.membership WHERE deployment_id = $1 AND address = $2 ORDER BY generation DESC LIMIT 1",
                system.ClusterId, NetnsRig.SiloAddress(silo)) is 6,
            $"silo {silo} declared dead", TimeSpan.FromSeconds(60));
        await Eventually.WaitForAsync(() => Task.FromResult(system.Silos[silo - 1].HasExited), $"silo {silo} to stop", TimeSpan.FromSeconds(60));
    }
}
