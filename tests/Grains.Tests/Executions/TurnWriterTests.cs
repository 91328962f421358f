using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NoEtl.Grains.Audit;
using NoEtl.Grains.Executions;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Keychain;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Telemetry;
using NoEtl.TestSupport;

namespace NoEtl.Grains.Tests.Executions;

/// <summary>Group commit against a real, migrated PostgreSQL database (scripts/pg.sh).</summary>
public sealed class TurnWriterTests : IAsyncLifetime
{
    private PgTestDatabase _database = null!;
    private NpgsqlDataSource _dataSource = null!;
    private long _catalogId;

    public async Task InitializeAsync()
    {
        _database = await PgTestDatabase.CreateAsync("turns");
        _dataSource = NpgsqlDataSource.Create(_database.ServerConnectionString);
        await using var command = _dataSource.CreateCommand(
            "INSERT INTO noetl.catalog (path, kind, content) VALUES ('tests/turns', 'playbook', '') RETURNING catalog_id");
        _catalogId = (long)(await command.ExecuteScalarAsync())!;
    }

    public async Task DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task Concurrent_turns_of_many_executions_share_transactions_and_each_execution_commits_whole()
    {
        await using var writer = Writer(writers: 1, maxTurns: 16);
        var executions = Enumerable.Range(1, 120).Select(i => 9_000_000L + i).ToArray();
        await Task.WhenAll(executions.Select(id => writer.CommitAsync(id, NewWriter, _catalogId, null, IssuingTurn(id))));

        Assert.Equal(120L, await Scalar("SELECT count(*) FROM noetl.event"));
        Assert.Equal(120L, await Scalar("SELECT count(*) FROM noetl.command WHERE status = 'PENDING'"));
        Assert.Equal(120L, await Scalar("SELECT count(*) FROM noetl.outbox WHERE status = 'PENDING'"));
        Assert.Equal(120L, await Scalar("SELECT count(*) FROM noetl.execution WHERE status = 'RUNNING'"));
        // Rows written by one transaction share xmin: fewer transactions than turns, none bigger than the limit.
        var transactions = await Scalar("SELECT count(DISTINCT xmin::text) FROM noetl.event");
        Assert.InRange(transactions, 120 / 16, 119);
        // An execution's event, command, outbox row and projection are always in the same transaction.
        Assert.Equal(0L, await Scalar(
            """
            SELECT count(*) FROM noetl.event e
              JOIN noetl.command c USING (execution_id)
              JOIN noetl.outbox o USING (execution_id)
              JOIN noetl.execution x USING (execution_id)
             WHERE e.xmin::text <> c.xmin::text OR e.xmin::text <> o.xmin::text OR e.xmin::text <> x.xmin::text
            """));
    }

    [Fact]
    public async Task A_failing_turn_fails_alone_and_the_rest_of_its_group_commits()
    {
        await using var writer = Writer(writers: 1, maxTurns: 64);
        const long victim = 8_000_001;
        var first = IssuingTurn(victim);
        await writer.CommitAsync(victim, NewWriter, _catalogId, null, first);

        // The only writer blocks inside a first turn (inserting events waits for this lock), so what follows queues up
        // and is taken as one batch: the same event id again (a primary key violation) among 20 good turns.
        var release = await BlockWriterAsync(writer, 8_000_100);
        var duplicate = new Turn();
        duplicate.Events.Add(first.Events[0]);
        var good = Enumerable.Range(2, 20).Select(i => 8_000_000L + i).ToArray();
        var goodCommits = good.Select(id => writer.CommitAsync(id, NewWriter, _catalogId, null, IssuingTurn(id))).ToList();
        var badCommit = writer.CommitAsync(victim, ExecutionLog.FirstWriterEpoch, _catalogId, null, duplicate);
        Assert.Equal(21, writer.QueueDepth); // all queued behind the blocked writer: one batch of 21 once it is free
        await release();

        var failure = await Assert.ThrowsAsync<PostgresException>(() => badCommit);
        Assert.Equal(PostgresErrorCodes.UniqueViolation, failure.SqlState);
        await Task.WhenAll(goodCommits);
        Assert.Equal(22L, await Scalar("SELECT count(*) FROM noetl.event"));
        Assert.Equal(22L, await Scalar("SELECT count(*) FROM noetl.outbox"));
    }

    [Fact]
    public async Task Successive_changes_of_one_command_in_a_turn_apply_in_order()
    {
        await using var writer = Writer(writers: 2, maxTurns: 64);
        const long execution = 7_000_001;
        var issue = IssuingTurn(execution);
        await writer.CommitAsync(execution, NewWriter, _catalogId, null, issue);
        var commandId = issue.NewCommands[0].CommandId;
        var claimedAt = DateTime.UtcNow.AddSeconds(-3);
        var startedAt = claimedAt.AddSeconds(1);
        var completedAt = startedAt.AddSeconds(1);

        var claim = new Turn();
        claim.CommandChanges.Add(new CommandChange(commandId, "CLAIMED", "worker-a", claimedAt, null, null, null, null, 11));
        await writer.CommitAsync(execution, ExecutionLog.FirstWriterEpoch, _catalogId, null, claim);
        var run = new Turn();
        run.CommandChanges.Add(new CommandChange(commandId, "RUNNING", null, null, startedAt, null, null, null, 12));
        run.CommandChanges.Add(new CommandChange(commandId, "RUNNING", null, null, completedAt, null, null, null, 13));
        run.CommandChanges.Add(new CommandChange(commandId, "COMPLETED", null, null, null, completedAt, new JsonObject { ["rows"] = 3 }, null, 14));
        await writer.CommitAsync(execution, ExecutionLog.FirstWriterEpoch, _catalogId, null, run);

        await using var command = _dataSource.CreateCommand(
            "SELECT status, worker_id, claimed_at, started_at, completed_at, result->>'rows', latest_event_id FROM noetl.command WHERE command_id = $1");
        command.Parameters.AddWithValue(commandId);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("COMPLETED", reader.GetString(0));
        Assert.Equal("worker-a", reader.GetString(1));
        Assert.Equal(claimedAt, reader.GetDateTime(2), TimeSpan.FromMilliseconds(1));
        Assert.Equal(startedAt, reader.GetDateTime(3), TimeSpan.FromMilliseconds(1)); // the first start is kept
        Assert.Equal(completedAt, reader.GetDateTime(4), TimeSpan.FromMilliseconds(1));
        Assert.Equal("3", reader.GetString(5));
        Assert.Equal(14L, reader.GetInt64(6));
    }

    [Fact]
    public async Task A_superseded_writer_is_refused_and_writes_nothing_while_the_new_writer_commits()
    {
        await using var writer = Writer(writers: 1, maxTurns: 64);
        const long execution = 6_000_001;
        await writer.CommitAsync(execution, NewWriter, _catalogId, null, IssuingTurn(execution));
        var oldEpoch = ExecutionLog.FirstWriterEpoch;

        // Another activation of the same execution (another silo, after a partition) takes over.
        var newEpoch = await new ExecutionLog(_dataSource, execution).TakeWriterEpochAsync();
        Assert.True(newEpoch > oldEpoch);

        var stale = await Assert.ThrowsAsync<StaleWriterException>(() => writer.CommitAsync(execution, oldEpoch, _catalogId, null, FollowUpTurn(execution, 1)));
        Assert.Equal(execution, stale.ExecutionId);
        Assert.Equal("stale_writer", DatabaseUnavailable.CodeOf(stale)); // a retryable 503, not a 500
        Assert.Equal(FailureKind.Unavailable, DatabaseUnavailable.Failure("stale_writer").Kind);
        Assert.Equal(1L, await Scalar($"SELECT count(*) FROM noetl.event WHERE execution_id = {execution}"));
        Assert.Equal("command.issued", await Text($"SELECT last_event_type FROM noetl.execution WHERE execution_id = {execution}"));

        await writer.CommitAsync(execution, newEpoch, _catalogId, null, FollowUpTurn(execution, 2));
        Assert.Equal(2L, await Scalar($"SELECT count(*) FROM noetl.event WHERE execution_id = {execution}"));
        Assert.Equal("step.exit", await Text($"SELECT last_event_type FROM noetl.execution WHERE execution_id = {execution}"));
    }

    [Fact]
    public async Task Projected_events_commit_under_the_writer_fence_keep_their_columns_and_skip_replays()
    {
        await using var writer = Writer(writers: 1, maxTurns: 64);
        const long execution = 6_000_003;
        await writer.CommitAsync(execution, NewWriter, _catalogId, null, IssuingTurn(execution));
        var projected = new Turn();
        projected.ProjectedEvents.Add(new JsonObject
        {
            ["event_id"] = 42,
            ["event_type"] = "custom.audit",
            ["node_name"] = "etl",
            ["duration"] = 1.5,
            ["stack_trace"] = "trace",
            ["timestamp"] = "2026-01-02T03:04:05",
            ["payload"] = new JsonObject { ["rows"] = 3 },
        });
        await writer.CommitAsync(execution, ExecutionLog.FirstWriterEpoch, _catalogId, null, projected);
        await writer.CommitAsync(execution, ExecutionLog.FirstWriterEpoch, _catalogId, null, projected); // a replay adds nothing
        Assert.Equal(1L, await Scalar($"SELECT count(*) FROM noetl.event WHERE execution_id = {execution} AND event_id = 42"));
        Assert.Equal("custom.audit|etl|1.5|trace|2026-01-02 03:04:05|3|" + _catalogId, await Text(
            $"""
            SELECT event_type || '|' || node_name || '|' || duration || '|' || stack_trace || '|' || created_at || '|' ||
                   (context->>'rows') || '|' || catalog_id
              FROM noetl.event WHERE execution_id = {execution} AND event_id = 42
            """));

        // A superseded activation's projection is refused like any of its turns.
        await new ExecutionLog(_dataSource, execution).TakeWriterEpochAsync();
        var stale = new Turn();
        stale.ProjectedEvents.Add(new JsonObject { ["event_id"] = 43, ["event_type"] = "custom.audit" });
        await Assert.ThrowsAsync<StaleWriterException>(() => writer.CommitAsync(execution, ExecutionLog.FirstWriterEpoch, _catalogId, null, stale));
        Assert.Equal(0L, await Scalar($"SELECT count(*) FROM noetl.event WHERE execution_id = {execution} AND event_id = 43"));
    }

    [Fact]
    public async Task Of_two_activations_that_found_no_writer_only_the_first_to_commit_starts_the_execution()
    {
        await using var writer = Writer(writers: 1, maxTurns: 64);
        const long execution = 6_000_002;
        await writer.CommitAsync(execution, NewWriter, _catalogId, null, IssuingTurn(execution));

        var second = IssuingTurn(execution + 1000); // other ids: only the fence may refuse it
        await Assert.ThrowsAsync<StaleWriterException>(() => writer.CommitAsync(execution, NewWriter, _catalogId, null, second));
        Assert.Equal(1L, await Scalar($"SELECT count(*) FROM noetl.event WHERE execution_id = {execution}"));
        Assert.Equal(1L, await Scalar($"SELECT epoch FROM noetl.execution_writer WHERE execution_id = {execution}"));
    }

    [Fact]
    public async Task A_stale_turn_in_a_group_commit_fails_alone()
    {
        await using var writer = Writer(writers: 1, maxTurns: 64);
        const long victim = 5_000_001;
        await writer.CommitAsync(victim, NewWriter, _catalogId, null, IssuingTurn(victim));
        await new ExecutionLog(_dataSource, victim).TakeWriterEpochAsync();

        var release = await BlockWriterAsync(writer, 5_000_100);
        var good = Enumerable.Range(2, 20).Select(i => 5_000_000L + i).ToArray();
        var goodCommits = good.Select(id => writer.CommitAsync(id, NewWriter, _catalogId, null, IssuingTurn(id))).ToList();
        var staleCommit = writer.CommitAsync(victim, ExecutionLog.FirstWriterEpoch, _catalogId, null, FollowUpTurn(victim, 1));
        Assert.Equal(21, writer.QueueDepth); // one batch of 21 once the writer is free
        await release();

        await Assert.ThrowsAsync<StaleWriterException>(() => staleCommit);
        await Task.WhenAll(goodCommits);
        Assert.Equal(22L, await Scalar("SELECT count(*) FROM noetl.event"));
        Assert.Equal(1L, await Scalar($"SELECT count(*) FROM noetl.event WHERE execution_id = {victim}"));
    }

    [Fact]
    public async Task A_full_queue_refuses_turns_at_once_and_drops_audit_records_without_failing_them()
    {
        await using var writer = new TurnWriter(_dataSource,
            new ServerOptions { CommitWriters = 1, CommitBatchMaxTurns = 1, CommitQueueMaxTurns = 2 }, NullLogger<TurnWriter>.Instance);
        long dropped = 0;
        var depth = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == NoEtlMetrics.MeterName && instrument.Name is "noetl.audit.dropped" or "noetl.commit.queue.depth")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref dropped, value));
        listener.SetMeasurementEventCallback<int>((_, value, _, _) => depth = Math.Max(depth, value));
        listener.Start();

        var release = await BlockWriterAsync(writer, 4_000_001);
        var queued = new[] { 4_000_002L, 4_000_003L }.Select(id => writer.CommitAsync(id, NewWriter, _catalogId, null, IssuingTurn(id))).ToList();

        // At once: the refusal is thrown by the call itself, not by a task that waited for room.
        var full = Assert.Throws<CommitQueueFullException>(void () => _ = writer.CommitAsync(4_000_004, NewWriter, _catalogId, null, IssuingTurn(4_000_004)));
        var audit = writer.RecordAsync(AuditLog.Entry("catalog.register", "ok", "tests/dropped"));
        Assert.True(audit.IsCompletedSuccessfully, "an audit record must not wait for a full queue");
        Assert.Equal("overloaded", DatabaseUnavailable.CodeOf(full));
        var refusal = DatabaseUnavailable.Failure("overloaded");
        Assert.Equal(FailureKind.Unavailable, refusal.Kind);
        Assert.Equal(DatabaseUnavailable.RetryAfterSeconds, refusal.RetryAfterSeconds);
        Assert.Equal("overloaded", refusal.Code);
        Assert.Equal(1L, Interlocked.Read(ref dropped));
        listener.RecordObservableInstruments();
        Assert.Equal(2, depth); // the gauge shows the full queue

        await release();
        await Task.WhenAll(queued);
        Assert.Equal(3L, await Scalar("SELECT count(*) FROM noetl.event"));
        Assert.Equal(0L, await Scalar("SELECT count(*) FROM noetl.event WHERE execution_id = 4000004"));
        Assert.Equal(0L, await Scalar("SELECT count(*) FROM noetl.execution_writer WHERE execution_id = 4000004"));
        Assert.Equal(0L, await Scalar("SELECT count(*) FROM noetl.audit WHERE resource = 'tests/dropped'"));
    }

    /// <summary>The writer of a brand-new execution: it found no writer row when it activated.</summary>
    private const long NewWriter = ExecutionLog.UnclaimedWriterEpoch;

    [Fact]
    public async Task A_start_turn_writes_its_keychain_rows_and_idempotency_key_in_the_same_transaction()
    {
        await using var writer = Writer(writers: 1, maxTurns: 64);
        const long execution = 6_100_001;
        var start = IssuingTurn(execution);
        start.Keychain.Add(KeychainRow($"api:{_catalogId}:{execution}", execution));
        start.Request = new ExecutionRequestRow("start-key-1", CommandsGenerated: 1);
        await writer.CommitAsync(execution, NewWriter, _catalogId, null, start);

        Assert.Equal(1L, await Scalar(
            $"""
            SELECT count(*) FROM noetl.event e
              JOIN noetl.keychain k ON k.execution_id = e.execution_id
              JOIN noetl.execution_request r ON r.execution_id = e.execution_id
             WHERE e.execution_id = {execution} AND e.xmin::text = k.xmin::text AND e.xmin::text = r.xmin::text
            """));
    }

    [Fact]
    public async Task A_start_turn_whose_keychain_row_fails_writes_nothing()
    {
        await using var writer = Writer(writers: 1, maxTurns: 64);
        const long execution = 6_100_002;
        var start = IssuingTurn(execution);
        start.Keychain.Add(KeychainRow($"api:{_catalogId}:{execution}", execution) with { CacheType = "not-a-cache-type" });

        var failure = await Assert.ThrowsAsync<PostgresException>(() => writer.CommitAsync(execution, NewWriter, _catalogId, null, start));

        Assert.Equal(PostgresErrorCodes.CheckViolation, failure.SqlState);
        Assert.Equal(0L, await Scalar($"SELECT count(*) FROM noetl.event WHERE execution_id = {execution}"));
        Assert.Equal(0L, await Scalar($"SELECT count(*) FROM noetl.command WHERE execution_id = {execution}"));
        Assert.Equal(0L, await Scalar($"SELECT count(*) FROM noetl.outbox WHERE execution_id = {execution}"));
        Assert.Equal(0L, await Scalar($"SELECT count(*) FROM noetl.execution WHERE execution_id = {execution}"));
    }

    [Fact]
    public async Task Of_two_starts_under_one_key_committed_together_one_fails_on_the_key_and_leaves_nothing()
    {
        await using var writer = Writer(writers: 1, maxTurns: 64);
        Turn Start(long execution)
        {
            var turn = IssuingTurn(execution);
            turn.Request = new ExecutionRequestRow("shared-start-key", CommandsGenerated: 1);
            return turn;
        }
        var commits = new[] { 5_000_001L, 5_000_002L }.Select(id => writer.CommitAsync(id, NewWriter, _catalogId, null, Start(id))).ToList();

        var outcomes = await Task.WhenAll(commits.Select(async commit =>
        {
            try { await commit; return null; }
            catch (Exception e) { return e; }
        }));

        Assert.Single(outcomes, e => e is null);
        Assert.True(IdempotentStarts.IsDuplicate(Assert.Single(outcomes, e => e is not null)!));
        Assert.Equal(1L, await Scalar("SELECT count(*) FROM noetl.execution WHERE execution_id IN (5000001, 5000002)"));
        Assert.Equal(await Scalar("SELECT execution_id FROM noetl.execution WHERE execution_id IN (5000001, 5000002)"),
            await Scalar("SELECT execution_id FROM noetl.execution_request WHERE idempotency_key = 'shared-start-key'"));
    }

    private KeychainRow KeychainRow(string cacheKey, long execution) => new(cacheKey, "api", _catalogId, "api", "secret",
        KeychainScope.Local, execution, null, "sealed", DateTimeOffset.UtcNow.AddHours(1), AutoRenew: false, RenewConfigJson: null);

    private TurnWriter Writer(int writers, int maxTurns) =>
        new(_dataSource, new ServerOptions { CommitWriters = writers, CommitBatchMaxTurns = maxTurns }, NullLogger<TurnWriter>.Instance);

    /// <summary>
    /// Parks the writer inside a turn of <paramref name="executionId"/> (inserting events waits for a table lock) until
    /// the returned release runs, so turns handed over meanwhile queue up and are taken together.
    /// </summary>
    private async Task<Func<Task>> BlockWriterAsync(TurnWriter writer, long executionId)
    {
        var blocker = await _dataSource.OpenConnectionAsync();
        var transaction = await blocker.BeginTransactionAsync();
        await using (var lockEvents = new NpgsqlCommand("LOCK TABLE noetl.event IN SHARE MODE", blocker, transaction))
            await lockEvents.ExecuteNonQueryAsync();
        var inWriter = writer.CommitAsync(executionId, NewWriter, _catalogId, null, IssuingTurn(executionId));
        await WaitForLockWaiterAsync();
        return async () =>
        {
            await transaction.RollbackAsync();
            await blocker.DisposeAsync();
            await inWriter;
        };
    }

    private async Task WaitForLockWaiterAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await Scalar($"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the writer never reached the lock");
            await Task.Delay(20);
        }
    }

    /// <summary>A later turn of an execution: one worker event and the projection it moves.</summary>
    private static Turn FollowUpTurn(long executionId, int sequence)
    {
        var now = DateTime.SpecifyKind(DateTime.UtcNow, DateTimeKind.Unspecified);
        var eventId = (executionId * 10) + 1 + sequence;
        var turn = new Turn();
        turn.Events.Add(new EventRow(eventId, "step.exit", "step", "python", "COMPLETED", new JsonObject(), null, null, null, "w", null, null, now));
        turn.Execution = new ExecutionProjection("RUNNING", eventId, "step.exit", "step", now, null, null);
        return turn;
    }

    /// <summary>What an execution's first engine turn writes: one command.issued event, its command, outbox row and projection.</summary>
    private static Turn IssuingTurn(long executionId)
    {
        var now = DateTime.SpecifyKind(DateTime.UtcNow, DateTimeKind.Unspecified);
        var eventId = executionId * 10;
        var commandId = executionId * 10 + 1;
        var turn = new Turn();
        turn.Events.Add(new EventRow(eventId, "command.issued", "step", "python", "PENDING", new JsonObject(), null,
            new JsonObject { ["command_id"] = commandId }, null, null, commandId, null, now));
        turn.NewCommands.Add(new NewCommandRow(commandId, eventId, "step", "python", new JsonObject(), new JsonObject(), now));
        turn.Outbox.Add(new OutboxRow(eventId, $"noetl.commands.shared.{executionId}", new JsonObject { ["event_id"] = eventId }));
        turn.Execution = new ExecutionProjection("RUNNING", eventId, "command.issued", "step", now, null, null);
        return turn;
    }

    private async Task<long> Scalar(string sql)
    {
        await using var command = _dataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    private async Task<string?> Text(string sql)
    {
        await using var command = _dataSource.CreateCommand(sql);
        return await command.ExecuteScalarAsync() as string;
    }
}
