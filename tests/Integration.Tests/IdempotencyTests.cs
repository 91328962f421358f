using System.Net;
using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

[Collection(SystemCollection.Name)]
public sealed class IdempotencyTests(SystemFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task The_same_command_completed_posted_twice_stores_one_row()
    {
        var path = $"tests/idem_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        var worker = new SimulatedWorker(Http, "idem-worker");
        await worker.RunToCompletionAsync(executionId, _ => new JsonObject { ["n"] = 1 });
        var claim = worker.Claims.Single();
        var commandId = claim["meta"]!["command_id"]!.GetValue<long>();
        var firstCount = await CountEventsAsync(executionId);

        var payload = new JsonObject { ["command_id"] = commandId, ["result"] = new JsonObject { ["status"] = "COMPLETED" } };
        var repeat = await Http.Event(executionId, "start", "command.completed", payload, "idem-worker");
        Assert.Equal(HttpStatusCode.OK, repeat.Status);
        var original = (await Http.Events(executionId)).Single(e => e!["event_type"]!.GetValue<string>() == "command.completed");
        Assert.Equal(original!["event_id"].Id(), repeat.Json["event_id"]!.GetValue<long>());
        Assert.Equal(0, repeat.Json["commands_generated"]!.GetValue<int>());
        Assert.Equal(firstCount, await CountEventsAsync(executionId));
    }

    [Fact]
    public async Task Replaying_a_whole_worker_sequence_changes_nothing()
    {
        var path = $"tests/replay_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.ThreeSteps(path));
        var executionId = await Http.Execute(path);
        var worker = new SimulatedWorker(Http, "replay-worker");
        await worker.RunToCompletionAsync(executionId, c => new JsonObject { ["value"] = 2, ["message"] = "m" });
        var before = await SnapshotAsync(executionId);

        foreach (var claim in worker.Claims)
        {
            Assert.Equal(HttpStatusCode.Conflict, (await Http.Claim(claim["event_id"]!.GetValue<long>(), "replay-worker")).Status);
            await worker.CompleteAsync(claim, new JsonObject { ["value"] = 2, ["message"] = "m" });
        }

        Assert.Equal(before, await SnapshotAsync(executionId));
        Assert.Equal("COMPLETED", (await Http.Status(executionId))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Execute_under_one_Idempotency_Key_starts_one_execution_even_for_concurrent_requests()
    {
        var path = $"tests/idem_execute_{Guid.NewGuid():N}";
        var (catalogId, _) = await Http.Register(Playbooks.OneStep(path));
        var key = $"start-{Guid.NewGuid():N}";
        Task<ApiResponse> Execute(string header) => Http.Send(HttpMethod.Post, "/api/execute", new { path, workload = new { } },
            headers: new Dictionary<string, string> { [header] = key });

        // Concurrent duplicates race for the key; the ones that lose answer with the winner's execution.
        var replies = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Execute(i % 2 == 0 ? "Idempotency-Key" : "X-Idempotency-Key")));
        var retry = await Execute("Idempotency-Key");

        Assert.All(replies.Append(retry), reply => Assert.Equal(HttpStatusCode.OK, reply.Status));
        var executionId = Assert.Single(replies.Append(retry).Select(r => r.Json["execution_id"]!.GetValue<string>()).Distinct());
        Assert.All(replies.Append(retry), reply => Assert.Equal(replies[0].Text, reply.Text)); // the same reply
        Assert.Equal(1L, await fixture.System.AdminScalarAsync("SELECT count(*) FROM noetl.execution WHERE catalog_id = $1", catalogId));
        Assert.Equal(1L, await fixture.System.AdminScalarAsync("SELECT count(*) FROM noetl.command WHERE catalog_id = $1", catalogId));
        Assert.Equal(long.Parse(executionId), await fixture.System.AdminScalarAsync(
            "SELECT execution_id FROM noetl.execution_request WHERE idempotency_key = $1", key));

        var other = await Http.Send(HttpMethod.Post, "/api/execute", new { path },
            headers: new Dictionary<string, string> { ["Idempotency-Key"] = $"other-{Guid.NewGuid():N}" });
        Assert.NotEqual(executionId, other.Json["execution_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_empty_or_overlong_Idempotency_Key_is_refused()
    {
        foreach (var key in new[] { "", new string('k', 201) })
        {
            var reply = await Http.Send(HttpMethod.Post, "/api/execute", new { path = "tests/never_started" },
                headers: new Dictionary<string, string> { ["Idempotency-Key"] = key });
            Assert.Equal(HttpStatusCode.UnprocessableEntity, reply.Status);
            Assert.Equal("header", reply.Json["detail"]![0]!["loc"]![0]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task A_replayed_event_batch_stores_nothing_and_answers_the_original_ids()
    {
        var path = $"tests/idem_batch_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.ThreeSteps(path));
        var executionId = await Http.Execute(path);
        var worker = new SimulatedWorker(Http, "batch-replayer");
        var claim = await Http.Claim(Assert.Single(await worker.PendingCommandEventsAsync(executionId)), "batch-replayer");
        var commandId = claim.Json["meta"]!["command_id"]!.GetValue<long>();
        var key = $"batch-{Guid.NewGuid():N}";
        Task<ApiResponse> Post(string batchKey) => Http.Send(HttpMethod.Post, "/api/events/batch", new JsonObject
        {
            ["execution_id"] = executionId.ToString(),
            ["worker_id"] = "batch-replayer",
            ["events"] = new JsonArray
            {
                new JsonObject { ["step"] = "start", ["name"] = "command.heartbeat", ["payload"] = new JsonObject { ["command_id"] = commandId } },
                new JsonObject { ["step"] = "start", ["name"] = "command.heartbeat", ["payload"] = new JsonObject { ["command_id"] = commandId } },
            },
        }, headers: new Dictionary<string, string> { ["Idempotency-Key"] = batchKey });

        var first = await Post(key);
        var stored = await CountEventsAsync(executionId);
        var replay = await Post(key);

        Assert.Equal(HttpStatusCode.Accepted, first.Status);
        Assert.False(first.Json["duplicate"]!.GetValue<bool>());
        Assert.True(first.Json["queue_depth"]!.GetValue<int>() >= 0);
        Assert.Equal(HttpStatusCode.Accepted, replay.Status);
        Assert.True(replay.Json["duplicate"]!.GetValue<bool>());
        Assert.Equal(first.Json["request_id"]!.GetValue<string>(), replay.Json["request_id"]!.GetValue<string>());
        Assert.Equal(first.Json["event_ids"]!.ToJsonString(), replay.Json["event_ids"]!.ToJsonString());
        Assert.Equal(key, replay.Json["idempotency_key"]!.GetValue<string>());
        Assert.Equal(stored, await CountEventsAsync(executionId));
        // Another key is another batch.
        Assert.False((await Post($"batch-{Guid.NewGuid():N}")).Json["duplicate"]!.GetValue<bool>());
        Assert.Equal(stored + 2, await CountEventsAsync(executionId));
    }

    private async Task<long> CountEventsAsync(long executionId)
    {
        await using var connection = new NpgsqlConnection(fixture.System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM noetl.event WHERE execution_id = $1", connection);
        command.Parameters.AddWithValue(executionId);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<string> SnapshotAsync(long executionId)
    {
        await using var connection = new NpgsqlConnection(fixture.System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT (SELECT count(*) FROM noetl.event WHERE execution_id = $1) || '/' ||
                   (SELECT string_agg(command_id || ':' || status, ',' ORDER BY command_id) FROM noetl.command WHERE execution_id = $1) || '/' ||
                   (SELECT count(*) FROM noetl.outbox WHERE execution_id = $1) || '/' ||
                   (SELECT status FROM noetl.execution WHERE execution_id = $1)
            """, connection);
        command.Parameters.AddWithValue(executionId);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
