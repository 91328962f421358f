using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Grains.Commands;

namespace NoEtl.Grains.Executions;

/// <summary>Reads an execution's slice of PostgreSQL when its grain activates; turns are written by <see cref="TurnWriter"/>.</summary>
public sealed class ExecutionLog(NpgsqlDataSource database, long executionId)
{
    /// <summary>The epoch of a writer that found no <c>noetl.execution_writer</c> row: its first commit creates it.</summary>
    public const long UnclaimedWriterEpoch = 0;

    /// <summary>The epoch that first commit creates the row with.</summary>
    public const long FirstWriterEpoch = 1;

    /// <summary>
    /// Supersedes any other activation of this execution (its next commit fails the fence in <see cref="TurnWriter"/>).
    /// Call before reading the log: the bump waits for a commit of the previous writer that holds the row, so the
    /// log read afterwards includes it.
    /// </summary>
    public async Task<long> TakeWriterEpochAsync()
    {
        await using var command = database.CreateCommand(
            "UPDATE noetl.execution_writer SET epoch = epoch + 1 WHERE execution_id = $1 RETURNING epoch");
        command.Parameters.AddWithValue(executionId);
        return await command.ExecuteScalarAsync() is long epoch ? epoch : UnclaimedWriterEpoch;
    }

    /// <summary>Which of <paramref name="eventIds"/> the log already holds (a projection replays them).</summary>
    public async Task<HashSet<long>> PresentEventIdsAsync(long[] eventIds)
    {
        await using var command = database.CreateCommand("SELECT event_id FROM noetl.event WHERE execution_id = $1 AND event_id = ANY($2)");
        command.Parameters.AddWithValue(executionId);
        command.Parameters.AddWithValue(eventIds);
        var present = new HashSet<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            present.Add(reader.GetInt64(0));
        return present;
    }

    public async Task<List<EventRow>> ReadEventsAsync()
    {
        await using var command = database.CreateCommand(
            """
            SELECT event_id, event_type, node_name, node_type, status, context::text, result::text, meta::text,
                   error, worker_id, command_id, parent_event_id, created_at
              FROM noetl.event WHERE execution_id = $1 ORDER BY event_id
            """);
        command.Parameters.AddWithValue(executionId);
        var rows = new List<EventRow>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new EventRow(
                reader.GetInt64(0), reader.GetString(1), NullableString(reader, 2), NullableString(reader, 3), NullableString(reader, 4),
                NullableObject(reader, 5), NullableObject(reader, 6), NullableObject(reader, 7), NullableString(reader, 8),
                NullableString(reader, 9), reader.IsDBNull(10) ? null : reader.GetInt64(10), reader.IsDBNull(11) ? null : reader.GetInt64(11),
                reader.GetDateTime(12)));
        }
        return rows;
    }

    public async Task<List<CommandRecord>> ReadCommandsAsync()
    {
        await using var command = database.CreateCommand(
            """
            SELECT command_id, event_id, step_name, tool_kind, status, worker_id, claimed_at, started_at, completed_at,
                   context::text, meta::text, attempt, updated_at
              FROM noetl.command WHERE execution_id = $1
            """);
        command.Parameters.AddWithValue(executionId);
        var rows = new List<CommandRecord>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new CommandRecord(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), NullableString(reader, 3) ?? "",
                NullableObject(reader, 9) ?? [], NullableObject(reader, 10) ?? [], reader.GetInt32(11))
            {
                Status = reader.GetString(4),
                WorkerId = NullableString(reader, 5),
                ClaimedAt = reader.IsDBNull(6) ? null : reader.GetDateTime(6),
                StartedAt = reader.IsDBNull(7) ? null : reader.GetDateTime(7),
                CompletedAt = reader.IsDBNull(8) ? null : reader.GetDateTime(8),
            });
        }
        return rows;
    }

    public static DateTime NowUtc() => DateTime.SpecifyKind(DateTime.UtcNow, DateTimeKind.Unspecified);

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static JsonObject? NullableObject(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : JsonNode.Parse(reader.GetString(ordinal)) as JsonObject;
}
