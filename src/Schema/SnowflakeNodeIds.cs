using Npgsql;

namespace NoEtl.Schema;

/// <summary>Allocation of app-side snowflake node ids (10 bits) from the database.</summary>
public static class SnowflakeNodeIds
{
    /// <summary>
    /// Returns a node id in 0..1023 from <c>noetl.snowflake_node_seq</c>. Silos starting at the
    /// same time get distinct ids (the sequence is not transactional); ids repeat only after 1024
    /// allocations, by which time the earlier holders have normally gone.
    /// </summary>
    public static async Task<int> AllocateAsync(NpgsqlDataSource serverDataSource, CancellationToken cancellationToken = default)
    {
        await using var command = serverDataSource.CreateCommand(
            "SELECT (nextval('noetl.snowflake_node_seq') % 1024)::integer");
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
