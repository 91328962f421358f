using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using NoEtl.Grains.Audit;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Keychain;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Telemetry;

namespace NoEtl.Grains.Executions;

/// <summary>
/// Group commit for the execution grains of one silo. A grain hands over its turn and awaits it; a few writer loops
/// each take whatever turns are queued (up to <see cref="ServerOptions.CommitBatchMaxTurns"/>) and write them as one
/// pipelined batch in one transaction: the writer fence, then one multi-row statement each for events (engine-written and projected), new commands,
/// command updates, outbox rows and projections. Nothing waits on purpose: with an idle writer a turn goes alone, and
/// under load turns queue while a batch commits, so batches grow with the load. Every execution's events, commands and
/// outbox rows still commit together. An execution has at most one turn queued (its grain is not reentrant), so
/// concurrent batches touch disjoint rows. A batch that fails for another reason than an unavailable database is
/// retried turn by turn, so a bad turn (or one from a superseded activation) fails only its own grain. The queue is
/// bounded (<see cref="ServerOptions.CommitQueueMaxTurns"/>): past it a turn is refused at once rather than left to wait.
/// </summary>
public sealed partial class TurnWriter : IAsyncDisposable
{
    private readonly NpgsqlDataSource _database;
    private readonly int _maxTurns;
    private readonly int _capacity;
    private readonly ILogger<TurnWriter> _logger;
    private readonly Channel<PendingTurn> _queue;
    private readonly Meter _meter = new(NoEtlMetrics.MeterName);
    private readonly Task[] _writers;
    private volatile bool _closing;

    public TurnWriter(NpgsqlDataSource database, ServerOptions options, ILogger<TurnWriter> logger)
    {
        _database = database;
        _maxTurns = Math.Max(1, options.CommitBatchMaxTurns);
        _capacity = Math.Max(1, options.CommitQueueMaxTurns);
        _logger = logger;
        _queue = Channel.CreateBounded<PendingTurn>(new BoundedChannelOptions(_capacity) { FullMode = BoundedChannelFullMode.Wait });
        _meter.CreateObservableGauge("noetl.commit.queue.depth", () => _queue.Reader.Count, "{turn}",
            "Turns waiting for a group commit on this silo");
        _writers = Enumerable.Range(0, Math.Max(1, options.CommitWriters)).Select(_ => Task.Run(WriteLoopAsync)).ToArray();
    }

    /// <summary>Turns waiting for a group commit on this silo.</summary>
    public int QueueDepth => _queue.Reader.Count;

    /// <summary>
    /// Completes once the turn is durable; faults with the database's exception if it is not, with
    /// <see cref="StaleWriterException"/> if <paramref name="writerEpoch"/> is no longer the execution's writer epoch
    /// (<see cref="ExecutionLog.TakeWriterEpochAsync"/>), and at once with <see cref="CommitQueueFullException"/> when
    /// the queue is full.
    /// </summary>
    public Task CommitAsync(long executionId, long writerEpoch, long catalogId, long? parentExecutionId, Turn turn)
    {
        var pending = new PendingTurn(executionId, writerEpoch, catalogId, parentExecutionId, turn, Activity.Current);
        if (!TryEnqueue(pending))
            throw new CommitQueueFullException(_capacity);
        return pending.Done.Task;
    }

    /// <summary>
    /// Audit records without a change of their own ride along with the next group commit. They never hold up or fail
    /// the call they describe because the queue is full: then they are dropped and counted (<c>noetl_audit_dropped_total</c>).
    /// </summary>
    public Task RecordAsync(params IReadOnlyCollection<AuditEntry> entries)
    {
        var turn = new Turn();
        turn.Audit.AddRange(entries);
        var pending = new PendingTurn(ExecutionId: 0, WriterEpoch: 0, CatalogId: 0, ParentExecutionId: null, turn, Activity.Current);
        if (TryEnqueue(pending))
            return pending.Done.Task;
        NoEtlMetrics.AuditDropped(entries.Count);
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _closing = true;
        _queue.Writer.TryComplete();
        await Task.WhenAll(_writers); // what is queued is still written
        _meter.Dispose();
    }

    /// <summary>False when the queue is full.</summary>
    private bool TryEnqueue(PendingTurn pending)
    {
        if (_queue.Writer.TryWrite(pending))
            return true;
        if (_closing)
            throw new ObjectDisposedException(nameof(TurnWriter), "the silo is shutting down");
        return false;
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingTurn>(_maxTurns);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < _maxTurns && _queue.Reader.TryRead(out var pending))
                batch.Add(pending);
            if (batch.Count == 0)
                continue; // another writer took it
            await WriteAsync(batch);
            batch.Clear();
        }
    }

    private async Task WriteAsync(List<PendingTurn> batch)
    {
        try
        {
            await ExecuteAsync(batch);
        }
        catch (Exception e) when (batch.Count > 1 && DatabaseUnavailable.CodeOf(e) is null)
        {
            LogBatchRetried(e, batch.Count);
            foreach (var pending in batch)
                await WriteAsync([pending]);
            return;
        }
        catch (PostgresException e) when (e.SqlState == StaleWriterException.SqlState)
        {
            var stale = batch[0]; // alone by now: a batch that failed the fence was retried turn by turn
            stale.Done.TrySetException(new StaleWriterException(stale.ExecutionId, stale.WriterEpoch, e));
            return;
        }
        catch (Exception e)
        {
            foreach (var pending in batch)
                pending.Done.TrySetException(e);
            return;
        }
        foreach (var pending in batch)
            pending.Done.TrySetResult();
    }

    private async Task ExecuteAsync(List<PendingTurn> batch)
    {
        // The SQL span joins the trace of the first turn's grain call; the others share its commit.
        Activity.Current = batch[0].Caller;
        await using var connection = await _database.OpenConnectionAsync();
        await using var sql = new NpgsqlBatch(connection);
        AddWriterFence(sql, batch);
        AddEvents(sql, batch);
        AddProjectedEvents(sql, batch);
        AddNewCommands(sql, batch);
        AddCommandChanges(sql, batch);
        AddOutbox(sql, batch);
        AddProjections(sql, batch);
        AddExecutionRequests(sql, batch);
        if (batch.SelectMany(p => p.Turn.Keychain).ToArray() is { Length: > 0 } keychain)
            sql.BatchCommands.Add(KeychainEntries.Upsert(keychain));
        if (batch.SelectMany(p => p.Turn.Audit).ToArray() is { Length: > 0 } audit)
            sql.BatchCommands.Add(AuditLog.Insert(audit));
        if (sql.BatchCommands.Count > 0)
            await sql.ExecuteNonQueryAsync(); // one implicit transaction: all statements or none
    }

    /// <summary>
    /// First, so a superseded writer fails before anything is written, and one call for the whole batch: the check costs
    /// one statement per transaction, not per turn. It raises <see cref="StaleWriterException.SqlState"/>, rolling back
    /// the batch, unless every execution's writer epoch is current (migration 0008).
    /// </summary>
    private static void AddWriterFence(NpgsqlBatch sql, List<PendingTurn> batch)
    {
        var turns = batch.Where(p => p.ExecutionId != 0).ToArray(); // audit-only records belong to no execution
        if (turns.Length == 0)
            return;
        var command = new NpgsqlBatchCommand("SELECT noetl.fence_execution_writers($1::bigint[], $2::bigint[])");
        command.Parameters.AddWithValue(turns.Select(p => p.ExecutionId).ToArray());
        command.Parameters.AddWithValue(turns.Select(p => p.WriterEpoch).ToArray());
        sql.BatchCommands.Add(command);
    }

    private static void AddEvents(NpgsqlBatch sql, List<PendingTurn> batch)
    {
        var rows = RowsOf(batch, turn => turn.Events);
        if (rows.Length == 0)
            return;
        var command = new NpgsqlBatchCommand(
            """
            INSERT INTO noetl.event (execution_id, catalog_id, parent_execution_id, event_id, parent_event_id, created_at,
                                     event_type, node_id, node_name, node_type, status, context, result, meta, error,
                                     worker_id, command_id)
            SELECT e.execution_id, e.catalog_id, e.parent_execution_id, e.event_id, e.parent_event_id, e.created_at, e.event_type,
                   e.node_name, e.node_name, e.node_type, e.status, e.context::jsonb, e.result::jsonb, e.meta::jsonb, e.error,
                   e.worker_id, e.command_id
              FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::timestamp[], $7::text[],
                          $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
                          $16::bigint[])
                   AS e(execution_id, catalog_id, parent_execution_id, event_id, parent_event_id, created_at, event_type,
                        node_name, node_type, status, context, result, meta, error, worker_id, command_id)
            """);
        command.Parameters.AddWithValue(rows.Select(r => r.Owner.ExecutionId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Owner.CatalogId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Owner.ParentExecutionId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.EventId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.ParentEventId).ToArray());
        command.Parameters.Add(Array(rows.Select(r => r.Row.CreatedAt).ToArray(), NpgsqlDbType.Timestamp));
        command.Parameters.AddWithValue(rows.Select(r => r.Row.EventType).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.NodeName).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.NodeType).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.Status).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.Context?.ToJsonString()).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.Result?.ToJsonString()).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.Meta?.ToJsonString()).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.Error).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.WorkerId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.CommandId).ToArray());
        sql.BatchCommands.Add(command);
    }

    /// <summary>Projected envelopes keep their own ids, times and NoETL columns; a replayed envelope is skipped.</summary>
    private static void AddProjectedEvents(NpgsqlBatch sql, List<PendingTurn> batch)
    {
        var rows = RowsOf(batch, turn => turn.ProjectedEvents);
        if (rows.Length == 0)
            return;
        var command = new NpgsqlBatchCommand(
            """
            INSERT INTO noetl.event (event_id, execution_id, catalog_id, parent_event_id, parent_execution_id, event_type, node_id,
                                     node_name, node_type, status, duration, context, result, meta, error, stack_trace,
                                     tenant_id, organization_id, created_at)
            SELECT (e->>'event_id')::bigint, p.execution_id, p.catalog_id, (e->>'parent_event_id')::bigint,
                   (e->>'parent_execution_id')::bigint, e->>'event_type', e->>'node_id', e->>'node_name', e->>'node_type',
                   e->>'status', (e->>'duration')::double precision, COALESCE(e->'context', e->'payload'), e->'result', e->'meta',
                   e->>'error', e->>'stack_trace', COALESCE(e->>'tenant_id', 'default'), COALESCE(e->>'organization_id', 'default'),
                   COALESCE((e->>'timestamp')::timestamp, (e->>'created_at')::timestamp, (now() AT TIME ZONE 'utc'))
              FROM unnest($1::bigint[], $2::bigint[], $3::jsonb[]) AS p(execution_id, catalog_id, e)
            ON CONFLICT (execution_id, event_id) DO NOTHING
            """);
        command.Parameters.AddWithValue(rows.Select(r => r.Owner.ExecutionId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Owner.CatalogId).ToArray());
        command.Parameters.Add(Array(rows.Select(r => r.Row.ToJsonString()).ToArray(), NpgsqlDbType.Jsonb));
        sql.BatchCommands.Add(command);
    }

    private static void AddNewCommands(NpgsqlBatch sql, List<PendingTurn> batch)
    {
        var rows = RowsOf(batch, turn => turn.NewCommands);
        if (rows.Length == 0)
            return;
        var command = new NpgsqlBatchCommand(
            """
            INSERT INTO noetl.command (execution_id, catalog_id, parent_execution_id, command_id, event_id, step_name, tool_kind,
                                       status, context, meta, attempt, latest_event_id, created_at, updated_at)
            SELECT c.execution_id, c.catalog_id, c.parent_execution_id, c.command_id, c.event_id, c.step_name, c.tool_kind,
                   'PENDING', c.context::jsonb, c.meta::jsonb, 1, c.event_id, c.created_at, c.created_at
              FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[],
                          $9::text[], $10::timestamptz[])
                   AS c(execution_id, catalog_id, parent_execution_id, command_id, event_id, step_name, tool_kind, context, meta,
                        created_at)
            """);
        command.Parameters.AddWithValue(rows.Select(r => r.Owner.ExecutionId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Owner.CatalogId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Owner.ParentExecutionId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.CommandId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.EventId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.Step).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.ToolKind).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.Context.ToJsonString()).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.Meta.ToJsonString()).ToArray());
        command.Parameters.Add(Array(rows.Select(r => AsUtc(r.Row.CreatedAt)).ToArray(), NpgsqlDbType.TimestampTz));
        sql.BatchCommands.Add(command);
    }

    private static void AddCommandChanges(NpgsqlBatch sql, List<PendingTurn> batch)
    {
        // One UPDATE row per command: a row may appear only once in UPDATE … FROM, so a turn's successive changes of
        // one command (started then completed, in one event batch) are merged first.
        var merged = new Dictionary<(long ExecutionId, long CommandId), CommandChange>();
        foreach (var pending in batch)
            foreach (var change in pending.Turn.CommandChanges)
                merged[(pending.ExecutionId, change.CommandId)] = merged.TryGetValue((pending.ExecutionId, change.CommandId), out var earlier)
                    ? CommandChange.Merge(earlier, change)
                    : change;
        if (merged.Count == 0)
            return;
        var rows = merged.ToArray();
        var command = new NpgsqlBatchCommand(
            """
            UPDATE noetl.command c
               SET status = u.status, worker_id = COALESCE(u.worker_id, c.worker_id),
                   claimed_at = COALESCE(u.claimed_at, c.claimed_at), started_at = COALESCE(c.started_at, u.started_at),
                   completed_at = COALESCE(u.completed_at, c.completed_at), result = COALESCE(u.result::jsonb, c.result),
                   error = COALESCE(u.error, c.error), latest_event_id = u.latest_event_id, updated_at = now()
              FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                          $7::timestamptz[], $8::text[], $9::text[], $10::bigint[])
                   AS u(execution_id, command_id, status, worker_id, claimed_at, started_at, completed_at, result, error,
                        latest_event_id)
             WHERE c.execution_id = u.execution_id AND c.command_id = u.command_id
            """);
        command.Parameters.AddWithValue(rows.Select(r => r.Key.ExecutionId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Key.CommandId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Value.Status).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Value.WorkerId).ToArray());
        command.Parameters.Add(Array(rows.Select(r => AsUtc(r.Value.ClaimedAt)).ToArray(), NpgsqlDbType.TimestampTz));
        command.Parameters.Add(Array(rows.Select(r => AsUtc(r.Value.StartedAt)).ToArray(), NpgsqlDbType.TimestampTz));
        command.Parameters.Add(Array(rows.Select(r => AsUtc(r.Value.CompletedAt)).ToArray(), NpgsqlDbType.TimestampTz));
        command.Parameters.AddWithValue(rows.Select(r => r.Value.Result?.ToJsonString()).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Value.Error).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Value.LatestEventId).ToArray());
        sql.BatchCommands.Add(command);
    }

    private static void AddOutbox(NpgsqlBatch sql, List<PendingTurn> batch)
    {
        var rows = RowsOf(batch, turn => turn.Outbox);
        if (rows.Length == 0)
            return;
        var command = new NpgsqlBatchCommand(
            """
            INSERT INTO noetl.outbox (execution_id, event_id, subject, payload, payload_codec)
            SELECT o.execution_id, o.event_id, o.subject, o.payload::jsonb, 'json'
              FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS o(execution_id, event_id, subject, payload)
            ON CONFLICT (execution_id, event_id) DO NOTHING
            """);
        command.Parameters.AddWithValue(rows.Select(r => r.Owner.ExecutionId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.EventId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.Subject).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.Payload.ToJsonString()).ToArray());
        sql.BatchCommands.Add(command);
    }

    private static void AddProjections(NpgsqlBatch sql, List<PendingTurn> batch)
    {
        var rows = batch.Where(p => p.Turn.Execution is not null).Select(p => (Owner: p, Row: p.Turn.Execution!)).ToArray();
        if (rows.Length == 0)
            return;
        // status is sticky once terminal; end_time is set by the first terminal write.
        var command = new NpgsqlBatchCommand(
            """
            INSERT INTO noetl.execution (execution_id, catalog_id, parent_execution_id, status, last_event_type, last_node_name,
                                         last_event_id, start_time, end_time, error, created_at, updated_at)
            SELECT p.execution_id, p.catalog_id, p.parent_execution_id, p.status, p.last_event_type, p.last_node_name,
                   p.last_event_id, p.start_time, p.end_time, p.error, now(), now()
              FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[],
                          $8::timestamptz[], $9::timestamptz[], $10::text[])
                   AS p(execution_id, catalog_id, parent_execution_id, status, last_event_type, last_node_name, last_event_id,
                        start_time, end_time, error)
            ON CONFLICT (execution_id) DO UPDATE SET
                status = CASE WHEN noetl.execution.status IN ('COMPLETED', 'FAILED', 'CANCELLED') THEN noetl.execution.status ELSE EXCLUDED.status END,
                last_event_type = EXCLUDED.last_event_type, last_node_name = EXCLUDED.last_node_name,
                last_event_id = GREATEST(noetl.execution.last_event_id, EXCLUDED.last_event_id),
                end_time = COALESCE(noetl.execution.end_time, EXCLUDED.end_time),
                error = COALESCE(EXCLUDED.error, noetl.execution.error), updated_at = now()
            """);
        command.Parameters.AddWithValue(rows.Select(r => r.Owner.ExecutionId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Owner.CatalogId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Owner.ParentExecutionId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.Status).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.LastEventType).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.LastNodeName).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.LastEventId).ToArray());
        command.Parameters.Add(Array(rows.Select(r => AsUtc(r.Row.StartTime)).ToArray(), NpgsqlDbType.TimestampTz));
        command.Parameters.Add(Array(rows.Select(r => AsUtc(r.Row.EndTime)).ToArray(), NpgsqlDbType.TimestampTz));
        command.Parameters.AddWithValue(rows.Select(r => r.Row.Error).ToArray());
        sql.BatchCommands.Add(command);
    }

    private static void AddExecutionRequests(NpgsqlBatch sql, List<PendingTurn> batch)
    {
        var rows = batch.Where(p => p.Turn.Request is not null).Select(p => (Owner: p, Row: p.Turn.Request!)).ToArray();
        if (rows.Length == 0)
            return;
        // No ON CONFLICT: a second start under the same key must fail its commit (the batch is then retried turn by turn).
        var command = new NpgsqlBatchCommand(
            """
            INSERT INTO noetl.execution_request (idempotency_key, execution_id, commands_generated)
            SELECT r.idempotency_key, r.execution_id, r.commands_generated
              FROM unnest($1::text[], $2::bigint[], $3::int[]) AS r(idempotency_key, execution_id, commands_generated)
            """);
        command.Parameters.AddWithValue(rows.Select(r => r.Row.IdempotencyKey).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Owner.ExecutionId).ToArray());
        command.Parameters.AddWithValue(rows.Select(r => r.Row.CommandsGenerated).ToArray());
        sql.BatchCommands.Add(command);
    }

    /// <summary>The rows of one kind from every turn of the batch, each with the turn that owns it.</summary>
    private static (PendingTurn Owner, T Row)[] RowsOf<T>(List<PendingTurn> batch, Func<Turn, List<T>> rows) =>
        batch.SelectMany(pending => rows(pending.Turn).Select(row => (pending, row))).ToArray();

    private static NpgsqlParameter Array<T>(T[] values, NpgsqlDbType elementType) =>
        new() { Value = values, NpgsqlDbType = NpgsqlDbType.Array | elementType };

    private static DateTime AsUtc(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc);

    private static DateTime? AsUtc(DateTime? value) => value is { } time ? AsUtc(time) : null;

    private sealed record PendingTurn(long ExecutionId, long WriterEpoch, long CatalogId, long? ParentExecutionId, Turn Turn, Activity? Caller)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A group commit of {Turns} turns failed; writing them one by one")]
    private partial void LogBatchRetried(Exception exception, int turns);
}
