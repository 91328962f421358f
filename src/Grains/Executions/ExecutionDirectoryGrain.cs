using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using NoEtl.Grains.Catalog;
using NoEtl.Grains.Commands;
using NoEtl.Grains.Executions.Aggregate;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Security;
using Orleans.Concurrency;

namespace NoEtl.Grains.Executions;

[StatelessWorker]
public sealed class ExecutionDirectoryGrain(
    NpgsqlDataSource database, SnowflakeIds ids, CommandLocations locations, TurnWriter writer, PlaybookCache playbooks)
    : Grain, IExecutionDirectoryGrain
{
    private static readonly Dictionary<string, string> ExecutableKinds = new(StringComparer.OrdinalIgnoreCase)
    {
        ["playbook"] = "playbook",
        ["playbooks"] = "playbook",
        ["agent"] = "agent",
        ["agents"] = "agent",
    };

    public async Task<Outcome<ExecutionStarted>> Execute(StartExecution request, string? resourceKind)
    {
        string[] kinds = ["playbook", "agent"];
        if (resourceKind is not null)
        {
            if (!ExecutableKinds.TryGetValue(resourceKind, out var kind))
                return Failure.Invalid("body.resource_kind", "resource_kind must be 'playbook' or 'agent'");
            kinds = [kind];
        }

        (long CatalogId, string Path, int Version)? entry;
        try
        {
            if (request.IdempotencyKey is { } key && await IdempotentStarts.FindAsync(database, key) is { } earlier)
                return earlier; // a retry: nothing new is written
            entry = await ResolveAsync(request, kinds);
        }
        catch (Exception e) when (DatabaseUnavailable.CodeOf(e) is { } code)
        {
            return DatabaseUnavailable.Failure(code);
        }
        if (entry is not { } found)
            return Failure.NotFound($"Executable catalog entry not found: {request.Path ?? request.CatalogId?.ToString()}");
        if (request.ParentExecutionId is { } parent && await ExecutionExistsAsync(parent) is false)
            return Failure.NotFound($"Parent execution not found: {parent}");

        var executionId = ids.Next();
        return await GrainFactory.Reference<IExecutionGrain>(executionId).Start(request, found.CatalogId, found.Path, found.Version);
    }

    public Task<long?> LocateCommand(long eventId) => locations.FindAsync(eventId);

    public Task<Outcome<IReadOnlyList<ExecutionSummary>>> List(int page, int pageSize) => DatabaseCall.Run<IReadOnlyList<ExecutionSummary>>(async () =>
    {
        // NULLS LAST as in idx_execution_list_page (the COALESCE is never null): with DESC's default NULLS FIRST the
        // index could not serve the order, and every page sorted the whole execution table.
        await using var command = database.CreateCommand(
            $"""
            SELECT {SummaryColumns}
              FROM noetl.execution x JOIN noetl.catalog c ON c.catalog_id = x.catalog_id
             ORDER BY COALESCE(x.start_time, x.created_at) DESC NULLS LAST, x.execution_id DESC
             LIMIT $1 OFFSET $2
            """);
        command.Parameters.AddWithValue(pageSize);
        command.Parameters.AddWithValue((page - 1) * pageSize);
        var items = new List<ExecutionSummary>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            items.Add(ReadSummary(reader));
        return items;
    });

    public Task<Outcome<ExecutionDetail>> Detail(long executionId, EventPage page) => DatabaseCall.Run<ExecutionDetail>(async () =>
    {
        if (await SummaryAsync(executionId) is not { } summary)
            return ExecutionAggregate.ExecutionNotFound;
        if (summary.Status == "COMPLETED")
            summary = summary with { Result = JsonText.From(await GrainFactory.Reference<IExecutionGrain>(executionId).FinalResult()) };

        // Both statements are range scans of the primary key (execution_id, event_id): the count reads the index
        // only, and the page is a backward scan that stops after OFFSET + LIMIT rows, so page 1 is cheap however
        // long the log is.
        long total;
        await using (var count = database.CreateCommand(
            "SELECT count(*) FROM noetl.event WHERE execution_id = $1 AND ($2::bigint IS NULL OR event_id > $2) AND ($3::text IS NULL OR event_type = $3)"))
        {
            AddEventFilters(count, executionId, page);
            total = (long)(await count.ExecuteScalarAsync())!;
        }

        var events = new List<ExecutionEventView>();
        if (page.IncludeEvents)
        {
            // Newest first, as NoETL's GUI reads it: the end of a running execution is on page 1.
            await using var command = database.CreateCommand(
                """
                SELECT event_id, event_type, node_id, node_name, status, created_at, context::text, result::text, error,
                       catalog_id, parent_execution_id, parent_event_id, duration, meta::text
                  FROM noetl.event
                 WHERE execution_id = $1 AND ($2::bigint IS NULL OR event_id > $2) AND ($3::text IS NULL OR event_type = $3)
                 ORDER BY event_id DESC LIMIT $4 OFFSET $5
                """);
            AddEventFilters(command, executionId, page);
            command.Parameters.AddWithValue(page.PageSize);
            command.Parameters.AddWithValue((page.Page - 1) * page.PageSize);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                events.Add(new ExecutionEventView(reader.GetInt64(0), reader.GetString(1), Text(reader, 2), Text(reader, 3), Text(reader, 4),
                    WireTimes.Utc(reader.GetDateTime(5)), RedactedJson(reader, 6), RedactedJson(reader, 7), RedactedText(reader, 8),
                    reader.GetInt64(9), Id(reader, 10), Id(reader, 11), reader.IsDBNull(12) ? null : reader.GetDouble(12),
                    Written(IdsAsStrings(Redactor.Redact(Json(reader, 13))))));
            }
        }

        var pagination = new EventPagination(page.Page, page.PageSize, total, (int)Math.Ceiling(total / (double)page.PageSize));
        return new ExecutionDetail(summary, events, page.IncludeEvents, pagination);
    });

    /// <summary>
    /// A new execution of the same catalog entry (so the same version), through <see cref="Execute"/> and its rules.
    /// Its workload overlay is the original's workload with <paramref name="workloadJson"/> merged over it. Keys a
    /// system playbook fixes are left out of the original's part: they hold the playbook's own values, which the new
    /// execution gets again, and an overlay that names them is refused as on <c>/api/execute</c>.
    /// </summary>
    public async Task<Outcome<ExecutionStarted>> Rerun(long executionId, string workloadJson, string? idempotencyKey)
    {
        long catalogId;
        string path;
        JsonObject original;
        try
        {
            await using var command = database.CreateCommand(
                """
                SELECT x.catalog_id, c.path,
                       (SELECT e.context->'workload' FROM noetl.event e
                         WHERE e.execution_id = x.execution_id AND e.event_type = 'playbook.initialized'
                         ORDER BY e.event_id LIMIT 1)::text
                  FROM noetl.execution x JOIN noetl.catalog c ON c.catalog_id = x.catalog_id
                 WHERE x.execution_id = $1
                """);
            command.Parameters.AddWithValue(executionId);
            await using var reader = await command.ExecuteReaderAsync();
            if (!await reader.ReadAsync())
                return ExecutionAggregate.ExecutionNotFound;
            (catalogId, path) = (reader.GetInt64(0), reader.GetString(1));
            original = (reader.IsDBNull(2) ? null : JsonNode.Parse(reader.GetString(2)) as JsonObject) ?? [];
        }
        catch (Exception e) when (DatabaseUnavailable.CodeOf(e) is { } code)
        {
            return DatabaseUnavailable.Failure(code);
        }
        if (EventBinding.CheckPool(Caller.Current, SystemPlaybooks.PoolOf(path), executionId, "rerun it") is { } foreignPool)
            return foreignPool;
        if (SystemPlaybooks.IsSystemPath(path) && await playbooks.GetAsync(catalogId) is { } playbook)
            foreach (var key in SystemPlaybooks.FixedKeys(playbook.Playbook.Document))
                original.Remove(key);
        var workload = Orchestrator.DeepMerge(original, JsonInput.ParseObject(workloadJson) ?? []);
        return await Execute(new StartExecution(null, catalogId, null, workload.ToJsonString(), null, idempotencyKey), null);
    }

    /// <summary>
    /// A report on one execution, computed by PostgreSQL from its slice of the log (primary-key range scans, grouped
    /// there): duration, event counts by type, the steps that failed with their latest error, and the steps that took
    /// longest. Each list holds at most <paramref name="limit"/> entries.
    /// </summary>
    public Task<Outcome<ExecutionAnalysis>> Analyze(long executionId, int limit) => DatabaseCall.Run<ExecutionAnalysis>(async () =>
    {
        if (await SummaryAsync(executionId) is not { } summary)
            return ExecutionAggregate.ExecutionNotFound;
        if (EventBinding.CheckPool(Caller.Current, SystemPlaybooks.PoolOf(summary.Path), executionId, "analyze it") is { } foreignPool)
            return foreignPool;

        var byType = new Dictionary<string, long>();
        long eventCount = 0;
        await using (var command = database.CreateCommand(
            "SELECT event_type, count(*) FROM noetl.event WHERE execution_id = $1 GROUP BY event_type ORDER BY count(*) DESC, event_type"))
        {
            command.Parameters.AddWithValue(executionId);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var count = reader.GetInt64(1);
                eventCount += count;
                byType[Text(reader, 0) ?? "unknown"] = count;
            }
        }

        var failed = new List<FailedStep>();
        await using (var command = database.CreateCommand(
            """
            SELECT node_name, count(*), (array_agg(error ORDER BY event_id DESC))[1], max(event_id), max(created_at)
              FROM noetl.event
             WHERE execution_id = $1 AND event_type IN ('call.error', 'command.failed')
             GROUP BY node_name
             ORDER BY max(event_id) DESC
             LIMIT $2
            """))
        {
            command.Parameters.AddWithValue(executionId);
            command.Parameters.AddWithValue(limit);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                failed.Add(new FailedStep(Text(reader, 0), reader.GetInt64(1), RedactedText(reader, 2), reader.GetInt64(3), WireTimes.Utc(reader.GetDateTime(4))));
        }

        // A step's commands (one per run or loop iteration) start when a worker reports command.started (else when
        // claimed, else issued) and end with their terminal worker event; the step's span is first start to last end.
        var slowest = new List<SlowStep>();
        await using (var command = database.CreateCommand(
            """
            WITH run AS (
                SELECT min(node_name) AS step,
                       COALESCE(min(created_at) FILTER (WHERE event_type = 'command.started'),
                                min(created_at) FILTER (WHERE event_type = 'command.claimed'),
                                min(created_at) FILTER (WHERE event_type = 'command.issued')) AS started_at,
                       max(created_at) FILTER (WHERE event_type IN ('command.completed', 'command.failed', 'call.done', 'call.error')) AS finished_at
                  FROM noetl.event
                 WHERE execution_id = $1 AND command_id IS NOT NULL
                 GROUP BY command_id
            )
            SELECT step, count(*), min(started_at), max(finished_at),
                   EXTRACT(EPOCH FROM max(finished_at) - min(started_at))::float8,
                   max(EXTRACT(EPOCH FROM finished_at - started_at))::float8
              FROM run
             WHERE finished_at IS NOT NULL
             GROUP BY step
             ORDER BY 5 DESC, step
             LIMIT $2
            """))
        {
            command.Parameters.AddWithValue(executionId);
            command.Parameters.AddWithValue(limit);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                slowest.Add(new SlowStep(Text(reader, 0), reader.GetInt64(1), WireTimes.Utc(reader.GetDateTime(2)), WireTimes.Utc(reader.GetDateTime(3)),
                    Math.Round(reader.GetDouble(4), 3), Math.Round(reader.GetDouble(5), 3)));
            }
        }

        return new ExecutionAnalysis(summary.ExecutionId, summary.Path, summary.Version, summary.Status, summary.Error, summary.StartTime,
            summary.EndTime, summary.DurationSeconds, summary.DurationHuman, eventCount, byType, failed, slowest, limit, WireTimes.Utc(DateTime.UtcNow));
    });

    private async Task<ExecutionSummary?> SummaryAsync(long executionId)
    {
        await using var command = database.CreateCommand(
            $"SELECT {SummaryColumns} FROM noetl.execution x JOIN noetl.catalog c ON c.catalog_id = x.catalog_id WHERE x.execution_id = $1");
        command.Parameters.AddWithValue(executionId);
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? ReadSummary(reader) : null;
    }

    /// <summary>
    /// Snowflake ids in event <c>meta</c> (<c>command_id</c>, <c>parent_cancel_id</c>, …: integer values of keys named
    /// <c>id</c> or <c>*_id</c>) as strings: JavaScript numbers lose their low digits.
    /// </summary>
    private static JsonNode? IdsAsStrings(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o.ToList())
                {
                    if ((key == "id" || key.EndsWith("_id", StringComparison.Ordinal)) && value is JsonValue v
                        && v.GetValueKind() == JsonValueKind.Number && long.TryParse(v.ToJsonString(), out var id))
                        o[key] = id.ToString();
                    else
                        IdsAsStrings(value);
                }
                break;
            case JsonArray a:
                foreach (var item in a)
                    IdsAsStrings(item);
                break;
        }
        return node;
    }

    /// <summary>
    /// The internal projection route. Envelopes may only add informative events to executions that exist, under
    /// their own catalog entry: the engine's own types (commands, calls, steps, terminal events) are written by the
    /// owning grain alone. All envelopes are checked before any is written. The audit row credits the principal that
    /// started the projecting execution (<paramref name="sourceExecutionId"/>), not the system pool that ran it.
    /// </summary>
    public async Task<Outcome<EventsProjected>> Project(JsonText eventsJson, long? sourceExecutionId)
    {
        if (JsonInput.ParseOrNull(eventsJson.Json) is not JsonArray events || events.Count == 0)
            return Failure.Invalid("body.events", "events must be a non-empty list");
        var newestId = ids.Next();
        var groups = new Dictionary<long, JsonArray>();
        var errors = new List<FieldFailure>();
        for (var i = 0; i < events.Count; i++)
        {
            if (ProjectionProblem(events[i], newestId) is { } problem)
            {
                errors.Add(new($"body.events.{i}.{problem.Field}", problem.Message));
                continue;
            }
            var envelope = (JsonObject)events[i]!;
            var executionId = WireIds.Read(envelope["execution_id"])!.Value;
            if (!groups.TryGetValue(executionId, out var group))
                groups[executionId] = group = [];
            group.Add(envelope.DeepClone());
        }
        if (errors.Count > 0)
            return Failure.Invalid(errors);

        try
        {
            var catalogs = await CatalogsOfAsync([.. groups.Keys]);
            for (var i = 0; i < events.Count; i++)
            {
                var envelope = (JsonObject)events[i]!;
                var executionId = WireIds.Read(envelope["execution_id"])!.Value;
                if (!catalogs.TryGetValue(executionId, out var catalogId))
                    errors.Add(new($"body.events.{i}.execution_id", $"execution {executionId} does not exist"));
                else if (WireIds.Read(envelope["catalog_id"]) is { } given && given != catalogId)
                    errors.Add(new($"body.events.{i}.catalog_id", $"execution {executionId} runs catalog entry {catalogId}, not {given}"));
            }
            if (errors.Count > 0)
                return Failure.Invalid(errors);

            var projected = 0;
            foreach (var (executionId, group) in groups)
                projected += await GrainFactory.Reference<IExecutionGrain>(executionId).Project(group.ToJsonString());
            await writer.RecordAsync(await ProjectionAuditAsync(sourceExecutionId, projected, [.. groups.Keys]));
            return new EventsProjected(projected, events.Count - projected);
        }
        catch (Exception e) when (DatabaseUnavailable.CodeOf(e) is { } code)
        {
            return DatabaseUnavailable.Failure(code);
        }
    }

    private static (string Field, string Message)? ProjectionProblem(JsonNode? item, long newestId)
    {
        if (item is not JsonObject envelope)
            return ("", "each event must be an object");
        if (WireIds.Read(envelope["event_id"]) is not { } eventId || eventId <= 0)
            return ("event_id", "event_id is required (a positive integer)");
        // Event ids order an execution's log: one from the future would push every later event id past it.
        if (eventId > newestId)
            return ("event_id", "event_id is ahead of the server's id clock");
        if (WireIds.Read(envelope["execution_id"]) is null)
            return ("execution_id", "execution_id is required (integer)");
        if (envelope["event_type"] is not JsonValue type || !type.TryGetValue<string>(out var eventType) || eventType.Length == 0)
            return ("event_type", "event_type is required");
        if (EventBinding.IsEngineType(eventType))
            return ("event_type", $"'{eventType}' is written by the execution itself and cannot be projected");
        if (envelope["result"] is { } result && !IsReferenceOnlyResult(result))
            return ("result", "result must be {status, reference?, context?}");
        return null;
    }

    private async Task<Dictionary<long, long>> CatalogsOfAsync(long[] executionIds)
    {
        await using var command = database.CreateCommand("SELECT execution_id, catalog_id FROM noetl.execution WHERE execution_id = ANY($1)");
        command.Parameters.AddWithValue(executionIds);
        var catalogs = new Dictionary<long, long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            catalogs[reader.GetInt64(0)] = reader.GetInt64(1);
        return catalogs;
    }

    private async Task<AuditEntry> ProjectionAuditAsync(long? sourceExecutionId, int projected, long[] executions)
    {
        var caller = Caller.Current;
        var detail = new JsonObject { ["projected"] = projected, ["executions"] = new JsonArray([.. executions.Select(id => (JsonNode)id.ToString())]) };
        if (sourceExecutionId is not { } source || await StartedByAsync(source) is not { } starter)
            return new AuditEntry(caller.Principal, caller.Role, "events.project", caller.Route, null, sourceExecutionId, "ok", detail.ToJsonString());
        detail["via"] = caller.Principal;
        return new AuditEntry(starter["principal"]?.ToString() ?? caller.Principal, starter["role"]?.ToString(), "events.project",
            caller.Route, null, source, "ok", detail.ToJsonString());
    }

    private async Task<JsonObject?> StartedByAsync(long executionId)
    {
        await using var command = database.CreateCommand(
            "SELECT context->'started_by' FROM noetl.event WHERE execution_id = $1 AND event_type = 'playbook.initialized' LIMIT 1");
        command.Parameters.AddWithValue(executionId);
        return await command.ExecuteScalarAsync() is string json ? JsonNode.Parse(json) as JsonObject : null;
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

    private static ExecutionSummary ReadSummary(NpgsqlDataReader reader)
    {
        DateTime? start = reader.IsDBNull(5) ? null : reader.GetDateTime(5);
        DateTime? end = reader.IsDBNull(6) ? null : reader.GetDateTime(6);
        var duration = start is null ? (double?)null : ((end ?? DateTime.UtcNow) - start.Value).TotalSeconds;
        return new ExecutionSummary(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetInt16(3), reader.GetString(4),
            WireTimes.Utc(start), WireTimes.Utc(end), duration is { } seconds ? Math.Round(seconds, 3) : null,
            duration is { } human ? Durations.Human(human) : null, Result: null, RedactedText(reader, 7), Id(reader, 8));
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

    private static long? Id(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt64(ordinal);

    private static JsonNode? Json(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : JsonNode.Parse(reader.GetString(ordinal));

    /// <summary>A logged document as the GUI may see it: parsed once to be redacted, written once.</summary>
    private static JsonText? RedactedJson(NpgsqlDataReader reader, int ordinal) => Written(Redactor.Redact(Json(reader, ordinal)));

    private static JsonText? Written(JsonNode? node) => JsonText.From(node?.ToJsonString());
}
