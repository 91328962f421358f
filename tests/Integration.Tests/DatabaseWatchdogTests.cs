using Npgsql;
using NoEtl.Integration.Tests.Faults;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>
/// The silos' database watchdog (NOETL_DB_WATCHDOG_SECONDS), on loopback: a silo reaches PostgreSQL through a relay
/// (tests/DelayProxy, no delay), and stopping the relay cuts that silo, and only it, off from the database. The rig
/// form with a real partition is <c>PartitionTests.Silo_partitioned_from_PostgreSQL</c>.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class DatabaseWatchdogTests
{
    private const string Stopping = "stopping so that the others take over its executions";
    private const string Outage = "no other silo reaches it either";

    private static readonly Dictionary<string, string> Watchdog = new()
    {
        ["NOETL_DB_WATCHDOG_SECONDS"] = "2",
        ["NOETL_MEMBERSHIP_PROBE_TIMEOUT_SECONDS"] = "1",
        ["NOETL_MEMBERSHIP_MISSED_PROBES"] = "2",
        ["NOETL_MEMBERSHIP_MAX_PROBE_TIMEOUT_SECONDS"] = "1",
    };

    [Fact]
    public async Task A_silo_cut_off_from_PostgreSQL_stops_and_its_executions_finish_on_the_other()
    {
        await using var system = await NoEtlSystem.StartAsync(silos: 1, poolSize: 6, siloSettings: Watchdog);
        var pg = PgRelay.For(system);
        var relay = pg.Start();
        await using (relay)
        {
            var cutOff = await system.StartSiloAsync(new() { ["ConnectionStrings__Noetl"] = pg.SiloConnectionString });
            var path = $"tests/chain_{Guid.NewGuid():N}";
            await system.Http.Register(FaultRun.ChainPlaybook(path, 3));
            var driver = new LoadDriver([system.Http], TimeSpan.Zero);
            var executions = await driver.StartExecutionsAsync(path, 20);

            relay.Kill();

            await Eventually.WaitForAsync(() => Task.FromResult(cutOff.HasExited), "the cut-off silo to stop itself", TimeSpan.FromSeconds(90));
            Assert.Contains(Stopping, cutOff.Output);
            Assert.False(system.Silos[0].HasExited, "the silo that reaches PostgreSQL must stay up");
            await driver.RunAsync(executions, workers: 4, DateTime.UtcNow.AddSeconds(90));
            var ledger = await Ledger.CheckAsync(system.Database.AdminConnectionString, executions, 3);
            Assert.True(ledger.Clean, $"{ledger}\n{system.Logs()}");
        }
    }

    /// <summary>
    /// Every silo left in the cluster is cut off (silo 1, the only one reaching PostgreSQL directly, is killed): a
    /// database outage. None stops, and the executions finish once the database is back.
    /// </summary>
    [Fact]
    public async Task When_no_silo_reaches_PostgreSQL_every_silo_stays_up()
    {
        await using var system = await NoEtlSystem.StartAsync(silos: 1, poolSize: 6, siloSettings: Watchdog);
        var pg = PgRelay.For(system);
        var relay = pg.Start();
        await using (relay)
        {
            var silos = new[]
            {
                await system.StartSiloAsync(new() { ["ConnectionStrings__Noetl"] = pg.SiloConnectionString }),
                await system.StartSiloAsync(new() { ["ConnectionStrings__Noetl"] = pg.SiloConnectionString }),
            };
            var path = $"tests/chain_{Guid.NewGuid():N}";
            await system.Http.Register(FaultRun.ChainPlaybook(path, 3));
            var driver = new LoadDriver([system.Http], TimeSpan.Zero);
            var executions = await driver.StartExecutionsAsync(path, 20);

            system.Silos[0].Kill();
            relay.Kill();

            foreach (var silo in silos)
                await Eventually.WaitForAsync(() => Task.FromResult(silo.Output.Contains(Outage)), $"{silo.Name} to see a database outage", TimeSpan.FromSeconds(90));
            Assert.All(silos, silo => Assert.False(silo.HasExited, $"{silo.Name} stopped during a database outage:\n{silo.Tail(40)}"));

            await using var restored = pg.Start();
            await driver.RunAsync(executions, workers: 4, DateTime.UtcNow.AddSeconds(120));
            var ledger = await Ledger.CheckAsync(system.Database.AdminConnectionString, executions, 3);
            Assert.True(ledger.Clean, $"{ledger}\n{system.Logs()}");
        }
    }

    /// <summary>A relay on a free port to the test database's server, and the silo connection string through it.</summary>
    private sealed record PgRelay(int Port, string Target, string SiloConnectionString)
    {
        public static PgRelay For(NoEtlSystem system)
        {
            var direct = new NpgsqlConnectionStringBuilder(system.Database.ServerConnectionString);
            var viaRelay = new NpgsqlConnectionStringBuilder(direct.ConnectionString) { Host = "127.0.0.1", Port = ProcessHost.FreePort() };
            return new PgRelay(viaRelay.Port, $"{direct.Host}:{direct.Port}", viaRelay.ConnectionString);
        }

        public ProcessHost Start() =>
            ProcessHost.Start("pg-relay", BuildOutput.DelayProxy, new Dictionary<string, string>(), $"127.0.0.1:{Port}", Target, "0");
    }
}
