using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using NoEtl.Grains.Audit;
using NoEtl.Grains.Commands;

namespace NoEtl.Grains.Executions;

/// <summary>One row of <c>noetl.event</c> as the grain writes it.</summary>
public sealed record EventRow(
    long EventId,
    string EventType,
    string? NodeName,
    string? NodeType,
    string? Status,
    JsonObject? Context,
    JsonObject? Result,
    JsonObject? Meta,
    string? Error,
    string? WorkerId,
    long? CommandId,
    long? ParentEventId,
    DateTime CreatedAt);

/// <summary>A new <c>noetl.command</c> row (PENDING).</summary>
public sealed record NewCommandRow(long CommandId, long EventId, string Step, string ToolKind, JsonObject Context, JsonObject Meta, DateTime CreatedAt);

/// <summary>A status change of an existing command row; timestamps are set once (COALESCE).</summary>
public sealed record CommandChange(
    long CommandId,
    string Status,
    string? WorkerId,
    DateTime? ClaimedAt,
    DateTime? StartedAt,
    DateTime? CompletedAt,
    JsonObject? Result,
    string? Error,
    long LatestEventId);

public sealed record OutboxRow(long EventId, string Subject, JsonObject Payload);

/// <summary>The <c>noetl.execution</c> projection after a turn.</summary>
public sealed record ExecutionProjection(string Status, long LastEventId, string? LastEventType, string? LastNodeName, DateTime StartTime, DateTime? EndTime, string? Error);

/// <summary>Everything one grain turn writes. It is committed in one transaction or not at all.</summary>
public sealed class Turn
{
    public List<EventRow> Events { get; } = [];
    public List<NewCommandRow> NewCommands { get; } = [];
    public List<CommandChange> CommandChanges { get; } = [];
    public List<OutboxRow> Outbox { get; } = [];
    public List<AuditEntry> Audit { get; } = [];
    public ExecutionProjection? Execution { get; set; }
}

/// <summary>The execution's own slice of PostgreSQL: reads on activation, one batched transaction per turn.</summary>
public sealed class ExecutionLog(NpgsqlDataSource database, long executionId)
{
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

    /// <summary>
    /// Writes the turn as one pipelined batch (one round trip, one implicit transaction): multi-row
    /// inserts of events, commands and outbox rows through <c>unnest</c>, the command updates, and the
    /// execution projection.
    /// </summary>
    public async Task CommitAsync(Turn turn, long catalogId, long? parentExecutionId)
    {
        await using var connection = await database.OpenConnectionAsync();
        await using var batch = new NpgsqlBatch(connection);

        if (turn.Events.Count > 0)
        {
            var events = new NpgsqlBatchCommand(
                """
                INSERT INTO noetl.event (execution_id, catalog_id, parent_execution_id, event_id, parent_event_id, created_at,
                                         event_type, node_id, node_name, node_type, status, context, result, meta, error,
                                         worker_id, command_id)
                SELECT $1, $2, $3, e.event_id, e.parent_event_id, e.created_at, e.event_type, e.node_name, e.node_name,
                       e.node_type, e.status, e.context::jsonb, e.result::jsonb, e.meta::jsonb, e.error, e.worker_id, e.command_id
                  FROM unnest($4::bigint[], $5::bigint[], $6::timestamp[], $7::text[], $8::text[], $9::text[], $10::text[],
                              $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::bigint[])
                       AS e(event_id, parent_event_id, created_at, event_type, node_name, node_type, status, context, result, meta,
                            error, worker_id, command_id)
                """);
            events.Parameters.AddWithValue(executionId);
            events.Parameters.AddWithValue(catalogId);
            events.Parameters.Add(Nullable(parentExecutionId, NpgsqlDbType.Bigint));
            events.Parameters.AddWithValue(turn.Events.Select(e => e.EventId).ToArray());
            events.Parameters.AddWithValue(turn.Events.Select(e => e.ParentEventId).ToArray());
            events.Parameters.Add(new NpgsqlParameter { Value = turn.Events.Select(e => e.CreatedAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Timestamp });
            events.Parameters.AddWithValue(turn.Events.Select(e => e.EventType).ToArray());
            events.Parameters.AddWithValue(turn.Events.Select(e => e.NodeName).ToArray());
            events.Parameters.AddWithValue(turn.Events.Select(e => e.NodeType).ToArray());
            events.Parameters.AddWithValue(turn.Events.Select(e => e.Status).ToArray());
            events.Parameters.AddWithValue(turn.Events.Select(e => e.Context?.ToJsonString()).ToArray());
            events.Parameters.AddWithValue(turn.Events.Select(e => e.Result?.ToJsonString()).ToArray());
            events.Parameters.AddWithValue(turn.Events.Select(e => e.Meta?.ToJsonString()).ToArray());
            events.Parameters.AddWithValue(turn.Events.Select(e => e.Error).ToArray());
            events.Parameters.AddWithValue(turn.Events.Select(e => e.WorkerId).ToArray());
            events.Parameters.AddWithValue(turn.Events.Select(e => e.CommandId).ToArray());
            batch.BatchCommands.Add(events);
        }

        if (turn.NewCommands.Count > 0)
        {
            var commands = new NpgsqlBatchCommand(
                """
                INSERT INTO noetl.command (execution_id, catalog_id, parent_execution_id, command_id, event_id, step_name, tool_kind,
                                           status, context, meta, attempt, latest_event_id, created_at, updated_at)
                SELECT $1, $2, $3, c.command_id, c.event_id, c.step_name, c.tool_kind, 'PENDING', c.context::jsonb, c.meta::jsonb,
                       1, c.event_id, c.created_at, c.created_at
                  FROM unnest($4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[])
                       AS c(command_id, event_id, step_name, tool_kind, context, meta, created_at)
                """);
            commands.Parameters.AddWithValue(executionId);
            commands.Parameters.AddWithValue(catalogId);
            commands.Parameters.Add(Nullable(parentExecutionId, NpgsqlDbType.Bigint));
            commands.Parameters.AddWithValue(turn.NewCommands.Select(c => c.CommandId).ToArray());
            commands.Parameters.AddWithValue(turn.NewCommands.Select(c => c.EventId).ToArray());
            commands.Parameters.AddWithValue(turn.NewCommands.Select(c => c.Step).ToArray());
            commands.Parameters.AddWithValue(turn.NewCommands.Select(c => c.ToolKind).ToArray());
            commands.Parameters.AddWithValue(turn.NewCommands.Select(c => c.Context.ToJsonString()).ToArray());
            commands.Parameters.AddWithValue(turn.NewCommands.Select(c => c.Meta.ToJsonString()).ToArray());
            commands.Parameters.Add(new NpgsqlParameter { Value = turn.NewCommands.Select(c => AsUtc(c.CreatedAt)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
            batch.BatchCommands.Add(commands);
        }

        foreach (var change in turn.CommandChanges)
        {
            var update = new NpgsqlBatchCommand(
                """
                UPDATE noetl.command
                   SET status = $3, worker_id = COALESCE($4, worker_id),
                       claimed_at = COALESCE($5, claimed_at), started_at = COALESCE(started_at, $6),
                       completed_at = COALESCE($7, completed_at), result = COALESCE($8::jsonb, result),
                       error = COALESCE($9, error), latest_event_id = $10, updated_at = now()
                 WHERE execution_id = $1 AND command_id = $2
                """);
            update.Parameters.AddWithValue(executionId);
            update.Parameters.AddWithValue(change.CommandId);
            update.Parameters.AddWithValue(change.Status);
            update.Parameters.Add(Nullable(change.WorkerId, NpgsqlDbType.Text));
            update.Parameters.Add(Nullable(change.ClaimedAt is { } c ? AsUtc(c) : null, NpgsqlDbType.TimestampTz));
            update.Parameters.Add(Nullable(change.StartedAt is { } s ? AsUtc(s) : null, NpgsqlDbType.TimestampTz));
            update.Parameters.Add(Nullable(change.CompletedAt is { } d ? AsUtc(d) : null, NpgsqlDbType.TimestampTz));
            update.Parameters.Add(Nullable(change.Result?.ToJsonString(), NpgsqlDbType.Text));
            update.Parameters.Add(Nullable(change.Error, NpgsqlDbType.Text));
            update.Parameters.AddWithValue(change.LatestEventId);
            batch.BatchCommands.Add(update);
        }

        if (turn.Outbox.Count > 0)
        {
            var outbox = new NpgsqlBatchCommand(
                """
                INSERT INTO noetl.outbox (execution_id, event_id, subject, payload, payload_codec)
                SELECT $1, o.event_id, o.subject, o.payload::jsonb, 'json'
                  FROM unnest($2::bigint[], $3::text[], $4::text[]) AS o(event_id, subject, payload)
                ON CONFLICT (execution_id, event_id) DO NOTHING
                """);
            outbox.Parameters.AddWithValue(executionId);
            outbox.Parameters.AddWithValue(turn.Outbox.Select(o => o.EventId).ToArray());
            outbox.Parameters.AddWithValue(turn.Outbox.Select(o => o.Subject).ToArray());
            outbox.Parameters.AddWithValue(turn.Outbox.Select(o => o.Payload.ToJsonString()).ToArray());
            batch.BatchCommands.Add(outbox);
        }

        if (turn.Execution is { } execution)
        {
            // status is sticky once terminal; end_time is set by the first terminal write.
            var upsert = new NpgsqlBatchCommand(
                """
                INSERT INTO noetl.execution (execution_id, catalog_id, parent_execution_id, status, last_event_type, last_node_name,
                                             last_event_id, start_time, end_time, error, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now(), now())
                ON CONFLICT (execution_id) DO UPDATE SET
                    status = CASE WHEN noetl.execution.status IN ('COMPLETED', 'FAILED', 'CANCELLED') THEN noetl.execution.status ELSE EXCLUDED.status END,
                    last_event_type = EXCLUDED.last_event_type, last_node_name = EXCLUDED.last_node_name,
                    last_event_id = GREATEST(noetl.execution.last_event_id, EXCLUDED.last_event_id),
                    end_time = COALESCE(noetl.execution.end_time, EXCLUDED.end_time),
                    error = COALESCE(EXCLUDED.error, noetl.execution.error), updated_at = now()
                """);
            upsert.Parameters.AddWithValue(executionId);
            upsert.Parameters.AddWithValue(catalogId);
            upsert.Parameters.Add(Nullable(parentExecutionId, NpgsqlDbType.Bigint));
            upsert.Parameters.AddWithValue(execution.Status);
            upsert.Parameters.Add(Nullable(execution.LastEventType, NpgsqlDbType.Text));
            upsert.Parameters.Add(Nullable(execution.LastNodeName, NpgsqlDbType.Text));
            upsert.Parameters.AddWithValue(execution.LastEventId);
            upsert.Parameters.Add(new NpgsqlParameter { Value = AsUtc(execution.StartTime), NpgsqlDbType = NpgsqlDbType.TimestampTz });
            upsert.Parameters.Add(Nullable(execution.EndTime is { } end ? AsUtc(end) : null, NpgsqlDbType.TimestampTz));
            upsert.Parameters.Add(Nullable(execution.Error, NpgsqlDbType.Text));
            batch.BatchCommands.Add(upsert);
        }

        foreach (var entry in turn.Audit)
            batch.BatchCommands.Add(AuditLog.Insert(entry));

        if (batch.BatchCommands.Count > 0)
            await batch.ExecuteNonQueryAsync();
    }

    public static DateTime NowUtc() => DateTime.SpecifyKind(DateTime.UtcNow, DateTimeKind.Unspecified);

    private static DateTime AsUtc(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc);

    private static NpgsqlParameter Nullable(object? value, NpgsqlDbType type) => new() { Value = value ?? DBNull.Value, NpgsqlDbType = type };

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static JsonObject? NullableObject(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : JsonNode.Parse(reader.GetString(ordinal)) as JsonObject;
}
