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
        Assert.Equal(original!["event_id"]!.GetValue<long>(), repeat.Json["event_id"]!.GetValue<long>());
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
