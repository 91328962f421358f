using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NoEtl.TestSupport;
using Npgsql;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService;

namespace NoEtl.Schema.Tests;

/// <summary>
/// The membership SQL (version etag, atomic insert/update with their undo paths, heartbeat,
/// cleanup) driven through the provider's own <see cref="AdoNetClusteringTable"/>.
/// </summary>
public sealed class ClusteringTableTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    [Fact]
    public async Task Membership_writes_are_versioned_all_or_nothing_and_heartbeats_do_not_bump_the_version()
    {
        var clusterId = $"c-{Guid.NewGuid():N}";
        var table = CreateTable(clusterId);
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => CreateTable(clusterId).InitializeMembershipTableAsync(true)));
        await table.InitializeMembershipTableAsync(true);

        var empty = await table.ReadAllAsync();
        Assert.Equal(0, empty.Version.Version);
        Assert.Equal("0", empty.Version.VersionEtag);
        Assert.Empty(empty.Members);

        var silo = Entry(11111, 1);
        Assert.True(await table.InsertRowAsync(silo, empty.Version.Next()));
        Assert.False(await table.InsertRowAsync(Entry(11112, 1), empty.Version.Next()));   // stale version
        var afterInsert = await table.ReadAllAsync();
        Assert.False(await table.InsertRowAsync(silo, afterInsert.Version.Next()));          // duplicate silo
        Assert.Equal(1, (await table.ReadAllAsync()).Version.Version);

        silo.Status = SiloStatus.Active;
        silo.AddOrUpdateSuspector(Entry(11113, 1).SiloAddress, DateTime.UtcNow, 10);
        var (_, etag) = afterInsert.Members.Single();
        Assert.True(await table.UpdateRowAsync(silo, etag, afterInsert.Version.Next()));
        Assert.False(await table.UpdateRowAsync(silo, etag, afterInsert.Version.Next()));    // stale version
        var afterUpdate = await table.ReadAllAsync();
        Assert.False(await table.UpdateRowAsync(Entry(11114, 1), afterUpdate.Version.VersionEtag, afterUpdate.Version.Next())); // unknown silo
        Assert.Equal(2, (await table.ReadAllAsync()).Version.Version);

        var (stored, _) = (await table.ReadRowAsync(silo.SiloAddress)).Members.Single();
        Assert.Equal(SiloStatus.Active, stored.Status);
        Assert.Single(stored.SuspectTimes!);
        Assert.Equal(DateTimeKind.Utc, stored.StartTime.Kind);
        Assert.Equal(silo.StartTime, stored.StartTime);
        Assert.Equal(silo.ProxyPort, stored.ProxyPort);

        var heartbeat = silo.IAmAliveTime.AddSeconds(30);
        silo.IAmAliveTime = heartbeat;
        await table.UpdateIAmAliveAsync(silo);
        var afterHeartbeat = await table.ReadRowAsync(silo.SiloAddress);
        Assert.Equal(heartbeat, afterHeartbeat.Members.Single().Item1.IAmAliveTime);
        Assert.Equal(2, afterHeartbeat.Version.Version);

        var unknown = await table.ReadRowAsync(Entry(11115, 1).SiloAddress);
        Assert.Equal(2, unknown.Version.Version);
        Assert.Empty(unknown.Members);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Defunct_cleanup_deletes_only_old_dead_rows_and_delete_removes_the_deployment(bool withPerRowKey)
    {
        // Without the optional CleanupDefunctSiloEntryKey the provider uses the bulk key instead.
        await using var ownDatabase = withPerRowKey ? null : await PgTestDatabase.CreateAsync("cleanup");
        if (ownDatabase is not null)
        {
            await using var admin = new NpgsqlConnection(ownDatabase.AdminConnectionString);
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand("DELETE FROM orleans.orleansquery WHERE querykey = 'CleanupDefunctSiloEntryKey'", admin);
            Assert.Equal(1, await drop.ExecuteNonQueryAsync());
        }

        var clusterId = $"c-{Guid.NewGuid():N}";
        var table = CreateTable(clusterId, (ownDatabase ?? fixture.Database).ServerConnectionString);
        await table.InitializeMembershipTableAsync(true);

        var old = Entry(12001, 1, DateTime.UtcNow.AddDays(-10));
        var recent = Entry(12002, 1, DateTime.UtcNow);
        var alive = Entry(12003, 1, DateTime.UtcNow.AddDays(-10));
        foreach (var entry in new[] { old, recent, alive })
        {
            Assert.True(await table.InsertRowAsync(entry, (await table.ReadAllAsync()).Version.Next()));
        }

        foreach (var entry in new[] { old, recent })
        {
            var snapshot = await table.ReadAllAsync();
            entry.Status = SiloStatus.Dead;
            Assert.True(await table.UpdateRowAsync(entry, snapshot.Version.VersionEtag, snapshot.Version.Next()));
        }

        var before = (await table.ReadAllAsync()).Version.Version;
        await table.CleanupDefunctSiloEntriesAsync(DateTimeOffset.UtcNow.AddDays(-1));
        var after = await table.ReadAllAsync();
        Assert.Equal(before, after.Version.Version);
        Assert.Equal([12002, 12003], after.Members.Select(m => m.Item1.SiloAddress.Endpoint.Port).Order());

        await table.DeleteMembershipTableEntriesAsync(clusterId);
        await Assert.ThrowsAnyAsync<Exception>(() => table.ReadAllAsync());
    }

    private AdoNetClusteringTable CreateTable(string clusterId) => CreateTable(clusterId, fixture.Database.ServerConnectionString);

    private static AdoNetClusteringTable CreateTable(string clusterId, string connectionString) => new(
        new ServiceCollection().BuildServiceProvider(),
        Options.Create(new ClusterOptions { ClusterId = clusterId, ServiceId = "svc" }),
        Options.Create(new AdoNetClusteringSiloOptions { Invariant = "Npgsql", ConnectionString = connectionString }),
        NullLogger<AdoNetClusteringTable>.Instance);

    private static MembershipEntry Entry(int port, int generation, DateTime? time = null)
    {
        // Whole milliseconds: what a round trip through timestamptz (microseconds) preserves exactly.
        var at = DateTime.UnixEpoch.AddMilliseconds(Math.Floor(((time ?? DateTime.UtcNow) - DateTime.UnixEpoch).TotalMilliseconds));
        return new MembershipEntry
        {
            SiloAddress = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, port), generation),
            SiloName = $"silo-{port}",
            HostName = "host",
            Status = SiloStatus.Joining,
            ProxyPort = port + 1000,
            StartTime = at,
            IAmAliveTime = at,
            SuspectTimes = [],
        };
    }
}
