using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using NoEtl.Grains.Commands;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Security;
using Orleans.Concurrency;

namespace NoEtl.Grains.Executions;

[StatelessWorker]
public sealed class ExecutionDirectoryGrain(NpgsqlDataSource database, SnowflakeIds ids, CommandLocations locations)
    : Grain, IExecutionDirectoryGrain
{
    private static readonly Dictionary<string, string> ExecutableKinds = new(StringComparer.OrdinalIgnoreCase)
    {
        ["playbook"] = "playbook",
        ["playbooks"] = "playbook",
        ["agent"] = "agent",
        ["agents"] = "agent",
    };

    public async Task<Reply> Execute(StartExecution request, string? resourceKind)
    {
        string[] kinds = ["playbook", "agent"];
        if (resourceKind is not null)
        {
            if (!ExecutableKinds.TryGetValue(resourceKind, out var kind))
                return new Reply(ReplyStatus.Invalid, JsonReplies.FieldErrors([("body.resource_kind", "resource_kind must be 'playbook' or 'agent'")]));
            kinds = [kind];
        }

        (long CatalogId, string Path, int Version)? entry;
        try
        {
            entry = await ResolveAsync(request, kinds);
        }
        catch (Exception e) when (DatabaseUnavailable.CodeOf(e) is { } code)
        {
            return DatabaseUnavailable.Reply(code);
        }
        if (entry is not { } found)
            return JsonReplies.NotFound($"Executable catalog entry not found: {request.Path ?? request.CatalogId?.ToString()}");
        if (request.ParentExecutionId is { } parent && await ExecutionExistsAsync(parent) is false)
            return JsonReplies.NotFound($"Parent execution not found: {parent}");

        var executionId = ids.Next();
        return await GrainFactory.Reference<IExecutionGrain>(executionId).Start(request, found.CatalogId, found.Path, found.Version);
    }

    public Task<long?> LocateCommand(long eventId) => locations.FindAsync(eventId);

    public Task<Reply> List(int page, int pageSize) => DatabaseCall.Run(async () =>
    {
        await using var command = database.CreateCommand(
            $"""
            SELECT {SummaryColumns}
              FROM noetl.execution x JOIN noetl.catalog c ON c.catalog_id = x.catalog_id
             ORDER BY COALESCE(x.start_time, x.created_at) DESC, x.execution_id DESC
             LIMIT $1 OFFSET $2
            """);
        command.Parameters.AddWithValue(pageSize);
        command.Parameters.AddWithValue((page - 1) * pageSize);
        var items = new JsonArray();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            items.Add(ReadSummary(reader));
        return JsonReplies.Ok(items);
    });

    public Task<Reply> Detail(long executionId, EventPage page) => DatabaseCall.Run(async () =>
    {
        JsonObject summary;
        await using (var command = database.CreateCommand(
            $"SELECT {SummaryColumns} FROM noetl.execution x JOIN noetl.catalog c ON c.catalog_id = x.catalog_id WHERE x.execution_id = $1"))
        {
            command.Parameters.AddWithValue(executionId);
            await using var reader = await command.ExecuteReaderAsync();
            if (!await reader.ReadAsync())
                return JsonReplies.NotFound("Execution not found");
            summary = ReadSummary(reader);
        }

        long total;
        await using (var count = database.CreateCommand(
            "SELECT count(*) FROM noetl.event WHERE execution_id = $1 AND ($2::bigint IS NULL OR event_id > $2) AND ($3::text IS NULL OR event_type = $3)"))
        {
            AddEventFilters(count, executionId, page);
            total = (long)(await count.ExecuteScalarAsync())!;
        }

        var events = new JsonArray();
        if (page.IncludeEvents)
        {
            await using var command = database.CreateCommand(
                """
                SELECT event_id, event_type, node_id, node_name, status, created_at, context::text, result::text, error,
                       catalog_id, parent_execution_id, parent_event_id, duration, meta::text
                  FROM noetl.event
                 WHERE execution_id = $1 AND ($2::bigint IS NULL OR event_id > $2) AND ($3::text IS NULL OR event_type = $3)
                 ORDER BY event_id LIMIT $4 OFFSET $5
                """);
            AddEventFilters(command, executionId, page);
            command.Parameters.AddWithValue(page.PageSize);
            command.Parameters.AddWithValue((page.Page - 1) * page.PageSize);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var created = reader.GetDateTime(5).ToString("O");
                events.Add(new JsonObject
                {
                    ["event_id"] = reader.GetInt64(0),
                    ["event_type"] = reader.GetString(1),
                    ["node_id"] = Text(reader, 2),
                    ["node_name"] = Text(reader, 3),
                    ["status"] = Text(reader, 4),
                    ["created_at"] = created,
                    ["timestamp"] = created,
                    ["context"] = Redactor.Redact(Json(reader, 6)),
                    ["result"] = Redactor.Redact(Json(reader, 7)),
                    ["error"] = RedactedText(reader, 8),
                    ["catalog_id"] = reader.GetInt64(9).ToString(),
                    ["parent_execution_id"] = reader.IsDBNull(10) ? null : reader.GetInt64(10).ToString(),
                    ["parent_event_id"] = reader.IsDBNull(11) ? null : reader.GetInt64(11),
                    ["duration"] = reader.IsDBNull(12) ? null : reader.GetDouble(12),
                    ["meta"] = Redactor.Redact(Json(reader, 13)),
                });
            }
        }

        var totalPages = (int)Math.Ceiling(total / (double)page.PageSize);
        summary["events"] = events;
        summary["events_included"] = page.IncludeEvents;
        summary["events_endpoint"] = $"/api/executions/{executionId}/events";
        summary["pagination"] = new JsonObject
        {
            ["page"] = page.Page,
            ["page_size"] = page.PageSize,
            ["total_events"] = total,
            ["total_pages"] = totalPages,
            ["has_next"] = page.Page < totalPages,
            ["has_prev"] = page.Page > 1,
        };
        return JsonReplies.Ok(summary);
    });

    public async Task<Reply> Project(string eventsJson)
    {
        if (JsonReplies.ParseOrNull(eventsJson) is not JsonArray events || events.Count == 0)
            return new Reply(ReplyStatus.Invalid, JsonReplies.FieldErrors([("body.events", "events must be a non-empty list")]));
        var groups = new Dictionary<long, JsonArray>();
        for (var i = 0; i < events.Count; i++)
        {
            if (events[i] is not JsonObject envelope || WireIds.Read(envelope["event_id"]) is null)
                return new Reply(ReplyStatus.Invalid, JsonReplies.FieldErrors([($"body.events.{i}.event_id", "event_id is required (integer)")]));
            var executionId = WireIds.Read(envelope["execution_id"]) ?? 0;
            if (envelope["result"] is { } result && !IsReferenceOnlyResult(result))
                return new Reply(ReplyStatus.Invalid, JsonReplies.FieldErrors([($"body.events.{i}.result", "result must be {status, reference?, context?}")]));
            if (!groups.TryGetValue(executionId, out var group))
                groups[executionId] = group = [];
            group.Add(envelope.DeepClone());
        }

        var projected = 0;
        try
        {
            foreach (var (executionId, group) in groups)
                projected += await GrainFactory.Reference<IExecutionGrain>(executionId).Project(group.ToJsonString());
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            return new Reply(ReplyStatus.Invalid, JsonReplies.FieldErrors([("body.events", "catalog_id does not name a catalog entry")]));
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InvalidTextRepresentation or PostgresErrorCodes.InvalidDatetimeFormat
                                              or PostgresErrorCodes.NotNullViolation or PostgresErrorCodes.CheckViolation)
        {
            return new Reply(ReplyStatus.Invalid, JsonReplies.FieldErrors([("body.events", e.MessageText)]));
        }
        catch (Exception e) when (DatabaseUnavailable.CodeOf(e) is { } code)
        {
            return DatabaseUnavailable.Reply(code);
        }
        return JsonReplies.Ok(new JsonObject { ["projected"] = projected, ["duplicates"] = events.Count - projected });
    }

    private static bool IsReferenceOnlyResult(JsonNode result) =>
        result is JsonObject o
        && o["status"] is JsonValue status && status.GetValueKind() == JsonValueKind.String
        && o.All(p => p.Key is "status" or "reference" or "context")
        && o["reference"] is null or JsonObject && o["context"] is null or JsonObject;

    private async Task<(long, string, int)?> ResolveAsync(StartExecution request, string[] kinds)
    {
        await using var command = database.CreateCommand(
            """
            SELECT catalog_id, path, version FROM noetl.catalog
             WHERE lower(kind) = ANY($1)
               AND ($2::bigint IS NULL OR catalog_id = $2)
               AND ($3::text IS NULL OR path = $3)
               AND ($4::int IS NULL OR version = $4)
             ORDER BY version DESC LIMIT 1
            """);
        command.Parameters.AddWithValue(kinds);
        command.Parameters.Add(new NpgsqlParameter { Value = request.CatalogId ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = request.Path ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = request.Version ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? (reader.GetInt64(0), reader.GetString(1), reader.GetInt16(2)) : null;
    }

    private async Task<bool> ExecutionExistsAsync(long executionId)
    {
        await using var command = database.CreateCommand("SELECT EXISTS (SELECT 1 FROM noetl.execution WHERE execution_id = $1)");
        command.Parameters.AddWithValue(executionId);
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    private const string SummaryColumns =
        "x.execution_id, x.catalog_id, c.path, c.version, x.status, x.start_time, x.end_time, x.error, x.parent_execution_id";

    private static JsonObject ReadSummary(NpgsqlDataReader reader)
    {
        DateTime? start = reader.IsDBNull(5) ? null : reader.GetDateTime(5);
        DateTime? end = reader.IsDBNull(6) ? null : reader.GetDateTime(6);
        var status = reader.GetString(4);
        var duration = start is null ? (double?)null : ((end ?? DateTime.UtcNow) - start.Value).TotalSeconds;
        return new JsonObject
        {
            ["execution_id"] = reader.GetInt64(0).ToString(),
            ["catalog_id"] = reader.GetInt64(1).ToString(),
            ["path"] = reader.GetString(2),
            ["version"] = (int)reader.GetInt16(3),
            ["status"] = status,
            ["start_time"] = start?.ToString("O"),
            ["end_time"] = end?.ToString("O"),
            ["duration_seconds"] = duration is null ? null : Math.Round(duration.Value, 3),
            ["duration_human"] = duration is null ? null : Durations.Human(duration.Value),
            ["progress"] = status is "RUNNING" ? 0 : 100,
            ["result"] = null,
            ["error"] = RedactedText(reader, 7),
            ["parent_execution_id"] = reader.IsDBNull(8) ? null : reader.GetInt64(8).ToString(),
        };
    }

    private static void AddEventFilters(NpgsqlCommand command, long executionId, EventPage page)
    {
        command.Parameters.AddWithValue(executionId);
        command.Parameters.Add(new NpgsqlParameter { Value = page.SinceEventId ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = page.EventType ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
    }

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    /// <summary>Error texts can quote a secret (a connection string in an exception message).</summary>
    private static string? RedactedText(NpgsqlDataReader reader, int ordinal) =>
        Text(reader, ordinal) is { } text ? Redactor.Redact(JsonValue.Create(text))?.GetValue<string>() : null;

    private static JsonNode? Json(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : JsonNode.Parse(reader.GetString(ordinal));
}
