using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Grains.Commands;
using NoEtl.Grains.Executions.Aggregate;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Executions;

/// <summary>
/// Reads an execution's slice of PostgreSQL for its grain: the log when it activates, and what a decision needs besides the
/// aggregate's state (secrets, holders' liveness, stored results, a completing loop's iterations, children). Turns are
/// written by <see cref="TurnWriter"/>.
/// </summary>
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
            rows.Add(ReadEvent(reader, 0));
        return rows;
    }

    /// <summary>
    /// The finished iterations of the loop fan-out entered at <paramref name="enteredEventId"/>: for each iteration command
    /// of <paramref name="step"/> issued since, its index and its first finishing event, in event-id order — what the
    /// engine folded when each iteration finished. Their meta is left out: the engine reads an iteration's data from the
    /// context and result only, and a long loop's rows are all in memory at once.
    /// </summary>
    private async Task<List<(int Index, EventRow Row)>> ReadIterationFinishesAsync(string step, long enteredEventId)
    {
        await using var command = database.CreateCommand(
            """
            SELECT iteration_index, event_id, event_type, node_name, node_type, status, context::text, result::text, NULL,
                   error, worker_id, command_id, parent_event_id, created_at FROM (
                SELECT DISTINCT ON (f.command_id) (i.meta->>'iteration_index')::int AS iteration_index, f.*
                  FROM noetl.event i
                  JOIN noetl.event f ON f.execution_id = i.execution_id AND f.command_id = i.command_id AND f.event_type = ANY($4)
                 WHERE i.execution_id = $1 AND i.event_type = 'command.issued' AND i.event_id > $2 AND i.meta->>'loop_step' = $3
                 ORDER BY f.command_id, f.event_id) first_finish
             ORDER BY event_id
            """);
        command.Parameters.AddWithValue(executionId);
        command.Parameters.AddWithValue(enteredEventId);
        command.Parameters.AddWithValue(step);
        command.Parameters.AddWithValue(Orchestrator.TriggerEventTypes.ToArray());
        var rows = new List<(int, EventRow)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            rows.Add((reader.GetInt32(0), ReadEvent(reader, 1)));
        return rows;
    }

    /// <summary>
    /// The finished iterations of <paramref name="loops"/> (<see cref="ExecutionAggregate.LoopsToRead"/>) with their
    /// <c>result_ref</c> data, by step: the aggregate keeps no iteration data once it is logged. Null when there is none to read.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<IterationFinish>>?> ReadLoopHistoryAsync(IReadOnlyList<LoopFanOut> loops)
    {
        if (loops.Count == 0)
            return null;
        var history = new Dictionary<string, IReadOnlyList<IterationFinish>>(StringComparer.Ordinal);
        foreach (var loop in loops)
        {
            var rows = await ReadIterationFinishesAsync(loop.Step, loop.EnteredEventId);
            var referenced = await ReferencedDataAsync(ExecutionAggregate.ReferencesIn(rows.Select(r => r.Row)));
            history[loop.Step] = ExecutionAggregate.IterationFinishes(rows, referenced);
        }
        return history;
    }

    private static EventRow ReadEvent(NpgsqlDataReader reader, int first) => new(
        reader.GetInt64(first), reader.GetString(first + 1), NullableString(reader, first + 2), NullableString(reader, first + 3),
        NullableString(reader, first + 4), NullableObject(reader, first + 5), NullableObject(reader, first + 6), NullableObject(reader, first + 7),
        NullableString(reader, first + 8), NullableString(reader, first + 9), reader.IsDBNull(first + 10) ? null : reader.GetInt64(first + 10),
        reader.IsDBNull(first + 11) ? null : reader.GetInt64(first + 11), reader.GetDateTime(first + 12));

    /// <summary>The commands' rows; context and meta only for those still open (finished ones keep them here, not in memory).</summary>
    /// <param name="names">The execution's name pool, which the records' step, tool kind, status and worker id come from.</param>
    public async Task<List<CommandRecord>> ReadCommandsAsync(NamePool names)
    {
        await using var command = database.CreateCommand(
            """
            SELECT command_id, event_id, step_name, tool_kind, status, worker_id, claimed_at, started_at, completed_at,
                   CASE WHEN status = ANY($2) THEN NULL ELSE context::text END,
                   CASE WHEN status = ANY($2) THEN NULL ELSE meta::text END, attempt, updated_at
              FROM noetl.command WHERE execution_id = $1
            """);
        command.Parameters.AddWithValue(executionId);
        command.Parameters.AddWithValue(CommandRecord.TerminalStatuses.ToArray());
        var rows = new List<CommandRecord>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new CommandRecord(reader.GetInt64(0), reader.GetInt64(1), names.Shared(reader.GetString(2)), names.Shared(NullableString(reader, 3) ?? ""),
                NullableObject(reader, 9), NullableObject(reader, 10), reader.GetInt32(11))
            {
                Status = names.Shared(reader.GetString(4)),
                WorkerId = names.Shared(NullableString(reader, 5)),
                ClaimedAt = reader.IsDBNull(6) ? null : reader.GetDateTime(6),
                StartedAt = reader.IsDBNull(7) ? null : reader.GetDateTime(7),
                CompletedAt = reader.IsDBNull(8) ? null : reader.GetDateTime(8),
            });
        }
        return rows;
    }

    /// <summary>A command's context and meta as issued (a finished command's lookup); null if its row is gone.</summary>
    public async Task<CommandBody?> ReadCommandBodyAsync(long commandId)
    {
        await using var command = database.CreateCommand(
            "SELECT context::text, meta::text FROM noetl.command WHERE execution_id = $1 AND command_id = $2");
        command.Parameters.AddWithValue(executionId);
        command.Parameters.AddWithValue(commandId);
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? new CommandBody(NullableObject(reader, 0) ?? [], NullableObject(reader, 1) ?? []) : null;
    }

    /// <summary>
    /// The stored data behind <paramref name="references"/>, for the engine to resolve <c>result_ref</c> results (NoETL
    /// <c>events.py</c>): only this execution's unexpired rows. A ref that is gone is absent, and its step result keeps only
    /// the reference.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, JsonNode?>> ReferencedDataAsync(IEnumerable<string?> references)
    {
        var wanted = references.OfType<string>().Distinct(StringComparer.Ordinal).ToArray();
        var found = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        if (wanted.Length == 0)
            return found;
        await using var command = database.CreateCommand(
            """
            SELECT ref, data::text FROM noetl.result_store
             WHERE execution_id = $1 AND ref = ANY($2) AND (expires_at IS NULL OR expires_at > now())
            """);
        command.Parameters.AddWithValue(executionId);
        command.Parameters.AddWithValue(wanted);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            found[reader.GetString(0)] = JsonNode.Parse(reader.GetString(1));
        return found;
    }

    /// <summary>
    /// The values of the credentials read for this execution (cached in its keychain entries, or its parent's): the
    /// aggregate scrubs them from everything it stores.
    /// </summary>
    public async Task<HashSet<string>> ReadSecretValuesAsync(SecretCipher cipher)
    {
        var values = new HashSet<string>(StringComparer.Ordinal);
        await using var command = database.CreateCommand(
            "SELECT cache_key, data_encrypted FROM noetl.keychain WHERE execution_id = $1 OR parent_execution_id = $1");
        command.Parameters.AddWithValue(executionId);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            try
            {
                // Legacy entries too, whatever NOETL_LEGACY_CREDENTIALS says: collecting values to scrub serves nothing.
                CollectStrings(cipher.OpenIncludingLegacy(reader.GetString(1), SecretCipher.KeychainBinding(reader.GetString(0))).Data, values);
            }
            catch (SecretUndecryptableException)
            {
                // An entry this silo cannot open holds nothing it could leak either.
            }
        }
        return values;
    }

    /// <summary>The liveness of a claim holder, from its pool's heartbeat row.</summary>
    public async Task<HolderLiveness?> ReadLivenessAsync(string workerId)
    {
        await using var command = database.CreateCommand(
            "SELECT status, EXTRACT(EPOCH FROM now() - heartbeat)::float8 FROM noetl.runtime WHERE kind = 'worker_pool' AND name = $1");
        command.Parameters.AddWithValue(workerId);
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? new HolderLiveness(reader.GetString(0), reader.GetDouble(1)) : null;
    }

    public async Task<List<long>> ReadChildrenAsync()
    {
        await using var command = database.CreateCommand("SELECT execution_id FROM noetl.execution WHERE parent_execution_id = $1");
        command.Parameters.AddWithValue(executionId);
        var children = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            children.Add(reader.GetInt64(0));
        return children;
    }

    /// <summary>Whether some descendant (child, grandchild, …) has not finished: an owed cascade still has work then.</summary>
    public async Task<bool> HasRunningDescendantsAsync()
    {
        await using var command = database.CreateCommand(
            """
            WITH RECURSIVE descendant AS (
                SELECT execution_id, status FROM noetl.execution WHERE parent_execution_id = $1
                UNION ALL
                SELECT x.execution_id, x.status FROM noetl.execution x JOIN descendant d ON x.parent_execution_id = d.execution_id
            )
            SELECT EXISTS (SELECT 1 FROM descendant WHERE status <> ALL ($2))
            """);
        command.Parameters.AddWithValue(executionId);
        command.Parameters.AddWithValue(CommandRecord.TerminalStatuses.ToArray());
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    private static void CollectStrings(JsonNode? node, HashSet<string> values)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, value) in o)
                    CollectStrings(value, values);
                break;
            case JsonArray a:
                foreach (var item in a)
                    CollectStrings(item, values);
                break;
            case JsonValue v when v.TryGetValue<string>(out var text) && text.Length >= 4:
                values.Add(text);
                break;
        }
    }

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static JsonObject? NullableObject(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : JsonNode.Parse(reader.GetString(ordinal)) as JsonObject;
}
