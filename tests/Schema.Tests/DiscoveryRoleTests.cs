using Npgsql;

namespace NoEtl.Schema.Tests;

/// <summary>The gateway's discovery role sees the Orleans gateway list and nothing else.</summary>
public sealed class DiscoveryRoleTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    [Theory]
    [InlineData("SELECT * FROM noetl.event")]
    [InlineData("INSERT INTO noetl.command (command_id, event_id, execution_id, catalog_id, step_name) VALUES (1, 1, 1, 1, 's')")]
    [InlineData("SELECT noetl.snowflake_id()")]
    [InlineData("INSERT INTO orleans.membership_version (deployment_id) VALUES ('x')")]
    [InlineData("UPDATE orleans.membership SET status = 6")]
    [InlineData("SELECT * FROM orleans.grain_state")]
    [InlineData("SELECT * FROM orleans.reminder")]
    [InlineData("SELECT orleans.membership_update('x', 'x', 1, 1, 6, NULL, now(), 0)")]
    public async Task Everything_but_the_gateway_list_is_denied(string sql)
    {
        await using var connection = new NpgsqlConnection(fixture.Database.DiscoveryConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var error = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, error.SqlState);
        Assert.StartsWith("permission denied", error.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_query_catalog_and_gateway_query_are_readable_through_search_path()
    {
        await using var connection = new NpgsqlConnection(fixture.Database.DiscoveryConnectionString);
        await connection.OpenAsync();

        // The exact text every provider runs (unquoted, resolved through Search Path=orleans).
        var catalog = await MigrationTests.Rows(connection, "SELECT QueryKey, QueryText FROM OrleansQuery",
            r => (Key: r.GetString(0), Text: r.GetString(1)));
        Assert.Equal(21, catalog.Count);

        await using var gateways = new NpgsqlCommand(catalog.Single(q => q.Key == "GatewaysQueryKey").Text, connection);
        gateways.Parameters.AddWithValue("DeploymentId", "no-such-cluster");
        gateways.Parameters.AddWithValue("Status", 3);
        await using var reader = await gateways.ExecuteReaderAsync();
        Assert.False(await reader.ReadAsync());
    }
}
