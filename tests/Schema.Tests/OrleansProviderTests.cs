using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Runtime;
using Orleans.Storage;
using Orleans.TestingHost;

namespace NoEtl.Schema.Tests;

/// <summary>The Orleans 10.4.2 ADO.NET providers work on the tables of migration 0002.</summary>
public sealed class OrleansProviderTests(AdoNetClusterFixture fixture) : IClassFixture<AdoNetClusterFixture>
{
    private string ClusterId => fixture.Cluster.Options.ClusterId;

    [Fact]
    public async Task Two_silos_join_and_the_client_connects_through_gateways_read_as_the_discovery_role()
    {
        await using var server = new NpgsqlConnection(fixture.Database.ServerConnectionString);
        await server.OpenAsync();
        await using var members = new NpgsqlCommand("""
            SELECT count(*) FILTER (WHERE status = 3),
                   bool_and(abs(extract(epoch FROM now() - start_time)) < 600),
                   (SELECT version FROM orleans.membership_version WHERE deployment_id = @cluster)
            FROM orleans.membership WHERE deployment_id = @cluster
            """, server);
        members.Parameters.AddWithValue("cluster", ClusterId);
        await using (var reader = await members.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal(2, reader.GetInt64(0));
            Assert.True(reader.GetBoolean(1), "start_time must be stored as UTC instants (server time zone is Europe/Paris)");
            Assert.True(reader.GetInt32(2) >= 4, "each silo inserts its row and then updates it to Active");
        }

        var hosts = await fixture.Cluster.Client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        Assert.Equal(2, hosts.Count);

        // The client's only clustering source is the discovery role's gateway query.
        await using var discovery = new NpgsqlConnection(fixture.Database.DiscoveryConnectionString);
        await discovery.OpenAsync();
        await using var text = new NpgsqlCommand("SELECT querytext FROM orleansquery WHERE querykey = 'GatewaysQueryKey'", discovery);
        await using var gateways = new NpgsqlCommand((string)(await text.ExecuteScalarAsync())!, discovery);
        gateways.Parameters.AddWithValue("DeploymentId", ClusterId);
        gateways.Parameters.AddWithValue("Status", 3);
        var gatewayPorts = await MigrationTests.Rows(gateways, r => r.GetInt32(r.GetOrdinal("ProxyPort")));
        Assert.Equal(
            fixture.Cluster.Silos.Select(s => s.GatewayAddress.Endpoint.Port).Order(),
            gatewayPorts.Order());
    }

    [Fact]
    public async Task Grain_state_round_trips_and_an_etag_conflict_is_detected()
    {
        var key = $"counter-{Guid.NewGuid():N}";
        var grain = fixture.Cluster.Client.GetGrain<ICounterGrain>(key);

        Assert.Equal(1, await grain.Increment());
        Assert.Equal(2, await grain.Increment());
        await grain.Deactivate();
        Assert.Equal(2, await grain.Get());
        Assert.Equal((2, true), await StoredStateAsync(key));

        // Move the version behind the grain's back: its next write must be refused.
        await using (var server = new NpgsqlConnection(fixture.Database.ServerConnectionString))
        {
            await server.OpenAsync();
            await using var bump = new NpgsqlCommand(
                "UPDATE orleans.grain_state SET version = version + 1 WHERE grain_type = 'counter' AND grain_key_ext = @key", server);
            bump.Parameters.AddWithValue("key", key);
            Assert.Equal(1, await bump.ExecuteNonQueryAsync());
        }

        await Assert.ThrowsAsync<InconsistentStateException>(() => grain.Increment());

        // A fresh activation reads the current etag; clear keeps the row with a NULL payload.
        await grain.Deactivate();
        Assert.Equal(3, await grain.Increment());
        await grain.Clear();
        Assert.Equal((5, false), await StoredStateAsync(key));
        await grain.Deactivate();
        Assert.Equal(0, await grain.Get());
    }

    [Fact]
    public async Task A_reminder_is_stored_fires_and_unregisters()
    {
        var key = $"reminder-{Guid.NewGuid():N}";
        var grain = fixture.Cluster.Client.GetGrain<IReminderProbeGrain>(key);
        await grain.Start();
        Assert.Equal(1, await ReminderRowsAsync(key));

        var clock = Stopwatch.StartNew();
        while (await grain.Ticks() < 2)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), "reminder did not fire twice within 15 s");
            await Task.Delay(250);
        }

        await grain.Stop();
        Assert.Equal(0, await ReminderRowsAsync(key));
    }

    [Fact]
    public async Task The_reminder_table_moves_etags_keeps_long_periods_and_reads_signed_hash_ranges()
    {
        var silo = Assert.IsType<InProcessSiloHandle>(fixture.Cluster.Silos[0]);
        var table = silo.SiloHost.Services.GetRequiredService<IReminderTable>();
        var grainId = GrainId.Create("probe", Guid.NewGuid().ToString("N"));
        var entry = new ReminderEntry
        {
            GrainId = grainId,
            ReminderName = "long",
            StartAt = DateTime.UtcNow.AddHours(1),
            Period = TimeSpan.FromDays(30),
        };

        var firstEtag = Assert.IsType<string>(await table.UpsertRow(entry));
        var secondEtag = Assert.IsType<string>(await table.UpsertRow(entry));
        Assert.NotEqual(firstEtag, secondEtag);
        var stored = Assert.IsType<ReminderEntry>(await table.ReadRow(grainId, "long"));
        Assert.Equal(TimeSpan.FromDays(30), stored.Period);
        Assert.Equal(secondEtag, stored.ETag);

        // Ranges are (begin, end] over the signed hash; begin == end is the whole ring.
        var hash = grainId.GetUniformHashCode();
        Assert.Contains((await table.ReadRows(unchecked(hash - 1), hash)).Reminders, r => r.GrainId == grainId);
        Assert.DoesNotContain((await table.ReadRows(hash, unchecked(hash - 1))).Reminders, r => r.GrainId == grainId);
        Assert.Contains((await table.ReadRows(hash, hash)).Reminders, r => r.GrainId == grainId);

        Assert.False(await table.RemoveRow(grainId, "long", firstEtag));
        Assert.True(await table.RemoveRow(grainId, "long", secondEtag));
        Assert.Empty((await table.ReadRows(grainId)).Reminders);
    }

    private async Task<(int Version, bool HasPayload)> StoredStateAsync(string key)
    {
        await using var server = new NpgsqlConnection(fixture.Database.ServerConnectionString);
        await server.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT version, payload IS NOT NULL FROM orleans.grain_state WHERE grain_type = 'counter' AND grain_key_ext = @key", server);
        command.Parameters.AddWithValue("key", key);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var state = (reader.GetInt32(0), reader.GetBoolean(1));
        Assert.False(await reader.ReadAsync());
        return state;
    }

    private async Task<long> ReminderRowsAsync(string key)
    {
        await using var server = new NpgsqlConnection(fixture.Database.ServerConnectionString);
        await server.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM orleans.reminder WHERE grain_id LIKE '%' || @key", server);
        command.Parameters.AddWithValue("key", key);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
