using Npgsql;
using NpgsqlTypes;

namespace NoEtl.Schema.Tests;

public sealed class NoetlSchemaTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    [Theory]
    [InlineData(null)]
    [InlineData("""{"status": "COMPLETED"}""")]
    [InlineData("""{"status": "COMPLETED", "reference": {"type": "s3"}, "context": {"x": 1}}""")]
    [InlineData("""{"status": "", "reference": {}}""")]
    public async Task Event_result_accepts_valid_shapes(string? result)
    {
        Assert.Equal(1, await InsertEventAsync(result));
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("\"COMPLETED\"")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("{}")]
    [InlineData("""{"status": 1}""")]
    [InlineData("""{"status": null}""")]
    [InlineData("""{"reference": {}}""")]
    [InlineData("""{"status": "COMPLETED", "data": {}}""")]
    [InlineData("""{"status": "COMPLETED", "reference": "s3://x"}""")]
    [InlineData("""{"status": "COMPLETED", "reference": null}""")]
    [InlineData("""{"status": "COMPLETED", "context": [1]}""")]
    public async Task Event_result_rejects_other_shapes(string result)
    {
        var error = await Assert.ThrowsAsync<PostgresException>(() => InsertEventAsync(result));
        Assert.Equal(PostgresErrorCodes.CheckViolation, error.SqlState);
        Assert.Equal("chk_event_result_shape", error.ConstraintName);
    }

    /// <summary>
    /// PostgreSQL vacuums a table once its dead rows exceed threshold + scale factor × rows. For the queues in front of
    /// a history (every row updated within seconds, then kept until the retention) that must not grow with the history.
    /// </summary>
    [Theory]
    [InlineData("outbox", 5_000)]
    [InlineData("command", 10_000)]
    public async Task Queue_tables_are_vacuumed_after_a_fixed_number_of_dead_rows_whatever_the_history(string table, int deadRows)
    {
        await using var connection = new NpgsqlConnection(fixture.Database.ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT COALESCE((SELECT split_part(o, '=', 2) FROM unnest(c.reloptions) o WHERE o LIKE 'autovacuum_vacuum_threshold=%'),
                            current_setting('autovacuum_vacuum_threshold'))::float8,
                   COALESCE((SELECT split_part(o, '=', 2) FROM unnest(c.reloptions) o WHERE o LIKE 'autovacuum_vacuum_scale_factor=%'),
                            current_setting('autovacuum_vacuum_scale_factor'))::float8
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'noetl' AND c.relname = $1
            """, connection);
        command.Parameters.AddWithValue(table);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"noetl.{table} exists");
        var (threshold, scaleFactor) = (reader.GetDouble(0), reader.GetDouble(1));
        double DeadRowsBeforeVacuum(long rows) => threshold + scaleFactor * rows;

        Assert.Equal(deadRows, DeadRowsBeforeVacuum(1_000));
        Assert.Equal(deadRows, DeadRowsBeforeVacuum(10_000_000));
    }

    [Fact]
    public async Task Db_side_snowflake_ids_follow_the_spec_layout()
    {
        await using var dataSource = NpgsqlDataSource.Create(fixture.Database.ServerConnectionString);
        await using var command = dataSource.CreateCommand("SELECT noetl.snowflake_id() FROM generate_series(1, 50)");
        var ids = new List<long>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetInt64(0));
            }
        }

        Assert.Equal(ids.Count, ids.Distinct().Count());
        var sinceEpochMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 1704067200000;
        Assert.All(ids, id =>
        {
            Assert.InRange(id >> 23, sinceEpochMs - 60_000, sinceEpochMs + 60_000);
            Assert.Equal(1, (id >> 18) & 31);
            Assert.InRange(id & 262143, 0, 1023);
        });
    }

    [Fact]
    public async Task Snowflake_node_ids_are_distinct_and_ten_bits()
    {
        await using var dataSource = NpgsqlDataSource.Create(fixture.Database.ServerConnectionString);
        var nodes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => SnowflakeNodeIds.AllocateAsync(dataSource)));
        Assert.Equal(nodes.Length, nodes.Distinct().Count());
        Assert.All(nodes, n => Assert.InRange(n, 0, 1023));
    }

    private async Task<int> InsertEventAsync(string? result)
    {
        await using var connection = new NpgsqlConnection(fixture.Database.ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            WITH catalog AS (
                INSERT INTO noetl.catalog (path, kind, content) VALUES ('tests/shape', 'playbook', '')
                RETURNING catalog_id
            )
            INSERT INTO noetl.event (execution_id, catalog_id, event_id, event_type, result)
            SELECT @execution_id, catalog_id, noetl.snowflake_id(), 'step.exit', @result FROM catalog
            """, connection);
        command.Parameters.AddWithValue("execution_id", Random.Shared.NextInt64(1, long.MaxValue));
        command.Parameters.Add(new NpgsqlParameter("result", NpgsqlDbType.Jsonb) { Value = (object?)result ?? DBNull.Value });
        return await command.ExecuteNonQueryAsync();
    }
}
