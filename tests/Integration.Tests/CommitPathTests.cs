using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>
/// The grain's commit path under the two refusals of the group commit: a superseded writer (the database fence) and a
/// full commit queue. Both answer a retryable 503 at once, write nothing of the refused turn and drop the activation.
/// </summary>
public sealed class CommitPathTests(CommitPathTests.Fixture fixture) : IClassFixture<CommitPathTests.Fixture>
{
    private const int QueueCapacity = 1;

    public sealed class Fixture : IAsyncLifetime
    {
        public NoEtlSystem System { get; private set; } = null!;

        // One writer and room for one queued turn, so a handful of concurrent turns overflows it.
        public async Task InitializeAsync() => System = await NoEtlSystem.StartAsync(silos: 1, poolSize: 6, siloSettings: new()
        {
            ["NOETL_COMMIT_WRITERS"] = "1",
            ["NOETL_COMMIT_QUEUE_MAX_TURNS"] = QueueCapacity.ToString(),
            ["NOETL_CLEANUP_INTERVAL_SECONDS"] = "0",
        });

        public async Task DisposeAsync() => await System.DisposeAsync();
    }

    private HttpClient Http => fixture.System.Http;

    [Fact]
    public async Task A_superseded_activation_is_refused_writes_nothing_and_the_retry_reaches_a_new_writer()
    {
        var (executionId, commandId) = await ClaimedCommandAsync("fenced-worker");

        // Another activation of this execution took the writer epoch (as one on another silo would after a partition).
        await Scalar("UPDATE noetl.execution_writer SET epoch = epoch + 1 WHERE execution_id = $1", executionId);

        var refused = await Started(executionId, commandId, "fenced-worker");
        Assert.True(refused.Status == HttpStatusCode.ServiceUnavailable, refused.Text);
        Assert.Equal("stale_writer", refused.Json["detail"]!["code"]!.GetValue<string>());
        Assert.NotNull(refused.Raw.Headers.RetryAfter);
        Assert.Equal(0L, await Sql("SELECT count(*) FROM noetl.event WHERE execution_id = $1 AND event_type = 'command.started'", executionId));

        var retried = await Started(executionId, commandId, "fenced-worker");
        Assert.True(retried.Status == HttpStatusCode.OK, retried.Text);
        Assert.Equal(1L, await Sql("SELECT count(*) FROM noetl.event WHERE execution_id = $1 AND event_type = 'command.started'", executionId));
        Assert.Equal("RUNNING", await SqlText("SELECT status FROM noetl.command WHERE command_id = $1", commandId));
    }

    [Fact]
    public async Task A_full_commit_queue_answers_503_overloaded_at_once_and_nothing_half_written_remains()
    {
        const int executions = 6;
        var claimed = new List<(long ExecutionId, long CommandId)>();
        for (var i = 0; i < executions; i++)
            claimed.Add(await ClaimedCommandAsync($"busy-worker-{i}"));

        // Inserting events waits for this lock, so the silo's only writer stays inside the first turn it takes.
        await using var blocker = new NpgsqlConnection(fixture.System.Database.AdminConnectionString);
        await blocker.OpenAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await using (var lockEvents = new NpgsqlCommand("LOCK TABLE noetl.event IN SHARE MODE", blocker, transaction))
            await lockEvents.ExecuteNonQueryAsync();

        var clock = Stopwatch.StartNew();
        var calls = claimed.Select((c, i) => Started(c.ExecutionId, c.CommandId, $"busy-worker-{i}")).ToList();
        await Eventually.WaitForAsync(() => Task.FromResult(calls.Count(c => c.IsCompleted) >= executions - 1 - QueueCapacity),
            "the turns past the queue's capacity to be refused", TimeSpan.FromSeconds(10));
        var answeredWhileBlocked = clock.Elapsed;
        var early = calls.Where(c => c.IsCompleted).Select(c => c.Result).ToList();
        Assert.All(early, reply =>
        {
            Assert.True(reply.Status == HttpStatusCode.ServiceUnavailable, reply.Text);
            Assert.Equal("overloaded", reply.Json["detail"]!["code"]!.GetValue<string>());
            Assert.NotNull(reply.Raw.Headers.RetryAfter);
        });
        Assert.True(answeredWhileBlocked < TimeSpan.FromSeconds(10), $"overloaded replies took {answeredWhileBlocked}");

        await transaction.RollbackAsync();
        var replies = await Task.WhenAll(calls);
        var refused = claimed.Where((_, i) => replies[i].Status == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.InRange(refused.Count, executions - 1 - QueueCapacity, executions - 1);
        Assert.All(replies.Where(r => r.Status != HttpStatusCode.ServiceUnavailable), r => Assert.Equal(HttpStatusCode.OK, r.Status));
        foreach (var (executionId, commandId) in refused)
        {
            Assert.Equal(0L, await Sql("SELECT count(*) FROM noetl.event WHERE execution_id = $1 AND event_type = 'command.started'", executionId));
            Assert.Equal("CLAIMED", await SqlText("SELECT status FROM noetl.command WHERE command_id = $1", commandId));
        }

        // The refused activations were dropped: the retries rebuild from the log and commit once each.
        foreach (var (index, (executionId, commandId)) in claimed.Index().Where(c => refused.Contains(c.Item)))
            Assert.Equal(HttpStatusCode.OK, (await Started(executionId, commandId, $"busy-worker-{index}")).Status);
        foreach (var (executionId, _) in claimed)
            Assert.Equal(1L, await Sql("SELECT count(*) FROM noetl.event WHERE execution_id = $1 AND event_type = 'command.started'", executionId));
    }

    private async Task<(long ExecutionId, long CommandId)> ClaimedCommandAsync(string workerId)
    {
        var path = $"tests/commit_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        var eventId = Assert.Single(await new SimulatedWorker(Http, "probe").PendingCommandEventsAsync(executionId));
        var claim = await Http.Claim(eventId, workerId);
        Assert.True(claim.Status == HttpStatusCode.OK, claim.Text);
        return (executionId, claim.Json["meta"]!["command_id"]!.GetValue<long>());
    }

    private Task<ApiResponse> Started(long executionId, long commandId, string workerId) =>
        Http.Event(executionId, "start", "command.started", new JsonObject { ["command_id"] = commandId }, workerId);

    private async Task<long> Sql(string sql, long parameter) => Convert.ToInt64(await Scalar(sql, parameter));

    private async Task<string?> SqlText(string sql, long parameter) => await Scalar(sql, parameter) as string;

    private async Task<object?> Scalar(string sql, long parameter)
    {
        await using var connection = new NpgsqlConnection(fixture.System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue(parameter);
        return await command.ExecuteScalarAsync();
    }
}
