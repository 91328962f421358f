using Npgsql;
using NpgsqlTypes;

namespace NoEtl.Schema.Tests;

/// <summary>
/// Grain-storage invariants the live cluster cannot easily provoke, run with the catalog's own
/// query texts and the parameter types the provider binds.
/// </summary>
public sealed class GrainStorageSqlTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    [Fact]
    public async Task Concurrent_first_writes_leave_one_row_and_one_conflict()
    {
        var write = await QueryTextAsync("WriteToStorageKey");
        for (var race = 0; race < 20; race++)
        {
            var key = $"race-{Guid.NewGuid():N}";
            var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(() => WriteAsync(write, key, ext: null, expectedVersion: null))));
            Assert.Equal([null, 1], results.Order());
            Assert.Equal(1, await CountRowsAsync(key));
        }
    }

    [Fact]
    public async Task Null_and_empty_key_extensions_are_different_grains_and_updates_check_the_version()
    {
        var write = await QueryTextAsync("WriteToStorageKey");
        var key = $"ext-{Guid.NewGuid():N}";

        Assert.Equal(1, await WriteAsync(write, key, ext: null, expectedVersion: null));
        Assert.Equal(1, await WriteAsync(write, key, ext: "", expectedVersion: null));
        Assert.Null(await WriteAsync(write, key, ext: null, expectedVersion: null));  // exists already
        Assert.Equal(2, await WriteAsync(write, key, ext: null, expectedVersion: 1));
        Assert.Null(await WriteAsync(write, key, ext: null, expectedVersion: 1));     // stale etag
        Assert.Equal(2, await CountRowsAsync(key));
    }

    private async Task<string> QueryTextAsync(string key)
    {
        await using var connection = new NpgsqlConnection(fixture.Database.ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT querytext FROM orleansquery WHERE querykey = @key", connection);
        command.Parameters.AddWithValue("key", key);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private async Task<int?> WriteAsync(string sql, string grainKey, string? ext, int? expectedVersion)
    {
        await using var connection = new NpgsqlConnection(fixture.Database.ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter("GrainIdHash", NpgsqlDbType.Integer) { Value = grainKey.Length });
        command.Parameters.Add(new NpgsqlParameter("GrainIdN0", NpgsqlDbType.Bigint) { Value = 0L });
        command.Parameters.Add(new NpgsqlParameter("GrainIdN1", NpgsqlDbType.Bigint) { Value = 0L });
        command.Parameters.Add(new NpgsqlParameter("GrainTypeHash", NpgsqlDbType.Integer) { Value = 42 });
        command.Parameters.Add(new NpgsqlParameter("GrainTypeString", NpgsqlDbType.Text) { Value = grainKey });
        command.Parameters.Add(new NpgsqlParameter("GrainIdExtensionString", NpgsqlDbType.Text) { Value = (object?)ext ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("ServiceId", NpgsqlDbType.Text) { Value = "svc" });
        command.Parameters.Add(new NpgsqlParameter("GrainStateVersion", NpgsqlDbType.Integer) { Value = (object?)expectedVersion ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("PayloadBinary", NpgsqlDbType.Bytea) { Value = new byte[] { 1, 2, 3 } });
        await using var reader = await command.ExecuteReaderAsync();
        int? newVersion = await reader.ReadAsync() ? reader.GetInt32(reader.GetOrdinal("NewGrainStateVersion")) : null;
        Assert.False(await reader.ReadAsync());
        return newVersion;
    }

    private async Task<long> CountRowsAsync(string grainKey)
    {
        await using var connection = new NpgsqlConnection(fixture.Database.ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM orleans.grain_state WHERE grain_type = @key", connection);
        command.Parameters.AddWithValue("key", grainKey);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
