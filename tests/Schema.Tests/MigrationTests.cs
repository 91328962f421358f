using NoEtl.TestSupport;
using Npgsql;

namespace NoEtl.Schema.Tests;

public sealed class MigrationTests
{
    [Fact]
    public async Task Migrations_apply_in_order_and_a_rerun_applies_nothing()
    {
        await using var db = await PgTestDatabase.CreateAsync("mig", migrate: false);
        await using var dataSource = NpgsqlDataSource.Create(db.ServerConnectionString);

        var first = await SchemaMigrator.MigrateAsync(dataSource);
        var second = await SchemaMigrator.MigrateAsync(dataSource);

        Assert.Equal(SchemaMigrator.Migrations.Select(m => m.Version), first.Select(m => m.Version));
        Assert.True(first.Count >= 2);
        Assert.Empty(second);

        await using var connection = await dataSource.OpenConnectionAsync();
        var recorded = await Rows(connection, "SELECT version, checksum FROM noetl_schema.migration ORDER BY version",
            r => (r.GetInt32(0), r.GetString(1)));
        Assert.Equal(SchemaMigrator.Migrations.Select(m => (m.Version, m.Checksum)), recorded);

        // The server role owns what it created (it will run later migrations).
        var owners = await Rows(connection,
            "SELECT nspname || ':' || nspowner::regrole FROM pg_namespace WHERE nspname IN ('noetl', 'orleans', 'noetl_schema') ORDER BY 1",
            r => r.GetString(0));
        Assert.Equal(["noetl:noetl_server", "noetl_schema:noetl_server", "orleans:noetl_server"], owners);

        var queryCount = await Rows(connection, "SELECT count(*) FROM orleansquery", r => r.GetInt64(0));
        Assert.Equal(21, queryCount.Single());
        var resources = await Rows(connection, "SELECT name FROM noetl.resource ORDER BY name", r => r.GetString(0));
        Assert.Equal(["agent", "credential", "mcp", "memory", "playbook"], resources);
    }

    [Fact]
    public async Task Four_concurrent_migrators_on_a_fresh_database_apply_each_migration_once()
    {
        await using var db = await PgTestDatabase.CreateAsync("migpar", migrate: false);
        var dataSources = Enumerable.Range(0, 4).Select(_ => NpgsqlDataSource.Create(db.ServerConnectionString)).ToList();
        try
        {
            var results = await Task.WhenAll(dataSources.Select(ds => Task.Run(() => SchemaMigrator.MigrateAsync(ds))));

            // Exactly one migrator did the work; the others waited on the lock and found nothing to do.
            Assert.Equal(SchemaMigrator.Migrations.Count, results.Sum(r => r.Count));
            Assert.Single(results, r => r.Count > 0);
            await using var connection = await dataSources[0].OpenConnectionAsync();
            var count = await Rows(connection, "SELECT count(*) FROM noetl_schema.migration", r => r.GetInt64(0));
            Assert.Equal(SchemaMigrator.Migrations.Count, count.Single());
        }
        finally
        {
            foreach (var ds in dataSources)
            {
                await ds.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_changed_checksum_of_an_applied_migration_is_an_error()
    {
        await using var db = await PgTestDatabase.CreateAsync("migsum");
        await using (var admin = new NpgsqlConnection(db.AdminConnectionString))
        {
            await admin.OpenAsync();
            await using var tamper = new NpgsqlCommand("UPDATE noetl_schema.migration SET checksum = 'edited' WHERE version = 1", admin);
            Assert.Equal(1, await tamper.ExecuteNonQueryAsync());
        }

        await using var dataSource = NpgsqlDataSource.Create(db.ServerConnectionString);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => SchemaMigrator.MigrateAsync(dataSource));
        Assert.Contains("0001_noetl_core", error.Message, StringComparison.Ordinal);
        Assert.Contains("checksum edited", error.Message, StringComparison.Ordinal);

        // The lock was released: the next caller does not hang.
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var tryLock = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection);
        tryLock.Parameters.AddWithValue("key", new SchemaOptions().AdvisoryLockKey);
        Assert.True((bool)(await tryLock.ExecuteScalarAsync())!);
    }

    internal static async Task<List<T>> Rows<T>(NpgsqlConnection connection, string sql, Func<NpgsqlDataReader, T> map)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await Rows(command, map);
    }

    internal static async Task<List<T>> Rows<T>(NpgsqlCommand command, Func<NpgsqlDataReader, T> map)
    {
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<T>();
        while (await reader.ReadAsync())
        {
            rows.Add(map(reader));
        }

        return rows;
    }
}
