using Npgsql;
using NoEtl.Grains.Catalog;
using NoEtl.Orchestration.Playbooks;
using NoEtl.TestSupport;

namespace NoEtl.Grains.Tests.Catalog;

/// <summary>Every registration is a new version: the silo's cache of parsed versions must not grow with them.</summary>
public sealed class PlaybookCacheTests : IAsyncLifetime
{
    private PgTestDatabase _database = null!;
    private NpgsqlDataSource _dataSource = null!;

    public async Task InitializeAsync()
    {
        _database = await PgTestDatabase.CreateAsync("cache");
        _dataSource = NpgsqlDataSource.Create(_database.ServerConnectionString);
    }

    public async Task DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task The_cache_keeps_at_most_its_capacity_and_reads_a_dropped_version_again()
    {
        const string payload = """{"apiVersion": "noetl.io/v2", "kind": "Playbook", "metadata": {"name": "v", "path": "tests/cache"}, "workflow": [{"step": "start", "tool": {"kind": "noop"}}]}""";
        await using (var insert = _dataSource.CreateCommand(
            """
            INSERT INTO noetl.catalog (catalog_id, path, version, kind, content, payload)
            SELECT 1000 + v, 'tests/cache', v, 'playbook', '', $1::jsonb FROM generate_series(1, $2) AS v
            """))
        {
            insert.Parameters.AddWithValue(payload);
            insert.Parameters.AddWithValue(PlaybookCache.Capacity + 50);
            await insert.ExecuteNonQueryAsync();
        }

        var cache = new PlaybookCache(_dataSource, PlaybookLimits.Default);
        for (var version = 1; version <= PlaybookCache.Capacity + 50; version++)
            Assert.Equal(version, (await cache.GetAsync(1000 + version))!.Version);
        Assert.Equal(PlaybookCache.Capacity, cache.Count);

        var first = await cache.GetAsync(1001); // dropped first, read again
        Assert.Equal(1, first!.Version);
        Assert.Equal(PlaybookCache.Capacity, cache.Count);
    }
}
