using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NoEtl.Grains.Executions;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Keychain;
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
        await Task.WhenAll(executions.Select(id => writer.CommitAsync(id, _catalogId, null, IssuingTurn(id))));

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
        await writer.CommitAsync(victim, _catalogId, null, first);

        // Queued together: the same event id again (primary key violation) among good turns.
        var duplicate = new Turn();
        duplicate.Events.Add(first.Events[0]);
        var good = Enumerable.Range(2, 20).Select(i => 8_000_000L + i).ToArray();
        var goodCommits = good.Select(id => writer.CommitAsync(id, _catalogId, null, IssuingTurn(id))).ToList();
        var badCommit = writer.CommitAsync(victim, _catalogId, null, duplicate);

        var failure = await Assert.ThrowsAsync<PostgresException>(() => badCommit);
        Assert.Equal(PostgresErrorCodes.UniqueViolation, failure.SqlState);
        await Task.WhenAll(goodCommits);
        Assert.Equal(21L, await Scalar("SELECT count(*) FROM noetl.event"));
        Assert.Equal(21L, await Scalar("SELECT count(*) FROM noetl.outbox"));
    }

    [Fact]
    public async Task Successive_changes_of_one_command_in_a_turn_apply_in_order()
    {
        await using var writer = Writer(writers: 2, maxTurns: 64);
        const long execution = 7_000_001;
        var issue = IssuingTurn(execution);
        await writer.CommitAsync(execution, _catalogId, null, issue);
        var commandId = issue.NewCommands[0].CommandId;
        var claimedAt = DateTime.UtcNow.AddSeconds(-3);
        var startedAt = claimedAt.AddSeconds(1);
        var completedAt = startedAt.AddSeconds(1);

        var claim = new Turn();
        claim.CommandChanges.Add(new CommandChange(commandId, "CLAIMED", "worker-a", claimedAt, null, null, null, null, 11));
        await writer.CommitAsync(execution, _catalogId, null, claim);
        var run = new Turn();
        run.CommandChanges.Add(new CommandChange(commandId, "RUNNING", null, null, startedAt, null, null, null, 12));
        run.CommandChanges.Add(new CommandChange(commandId, "RUNNING", null, null, completedAt, null, null, null, 13));
        run.CommandChanges.Add(new CommandChange(commandId, "COMPLETED", null, null, null, completedAt, new JsonObject { ["rows"] = 3 }, null, 14));
        await writer.CommitAsync(execution, _catalogId, null, run);

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
    public async Task A_start_turn_writes_its_keychain_rows_and_idempotency_key_in_the_same_transaction()
    {
        await using var writer = Writer(writers: 1, maxTurns: 64);
        const long execution = 6_000_001;
        var start = IssuingTurn(execution);
        start.Keychain.Add(KeychainRow($"api:{_catalogId}:{execution}", execution));
        start.Request = new ExecutionRequestRow("start-key-1", CommandsGenerated: 1);
        await writer.CommitAsync(execution, _catalogId, null, start);

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
        const long execution = 6_000_002;
        var start = IssuingTurn(execution);
        start.Keychain.Add(KeychainRow($"api:{_catalogId}:{execution}", execution) with { CacheType = "not-a-cache-type" });

        var failure = await Assert.ThrowsAsync<PostgresException>(() => writer.CommitAsync(execution, _catalogId, null, start));

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
        var commits = new[] { 5_000_001L, 5_000_002L }.Select(id => writer.CommitAsync(id, _catalogId, null, Start(id))).ToList();

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

    /// <summary>What an execution's first engine turn writes: one command.issued event, its command, outbox row and projection.</summary>
    private static Turn IssuingTurn(long executionId)
    {
        var now = ExecutionLog.NowUtc();
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
}
