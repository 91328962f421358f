using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

[Collection(SystemCollection.Name)]
public sealed class ClaimTests(SystemFixture fixture)
{
    private HttpClient Http => fixture.Http;

    private async Task<(long ExecutionId, long EventId)> IssueOneCommandAsync()
    {
        var path = $"tests/claims_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        var pending = await new SimulatedWorker(Http, "probe").PendingCommandEventsAsync(executionId);
        return (executionId, Assert.Single(pending));
    }

    [Fact]
    public async Task Racing_workers_get_exactly_one_200()
    {
        var (_, eventId) = await IssueOneCommandAsync();
        var claims = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Http.Claim(eventId, $"racer-{i}")));
        Assert.Single(claims, c => c.Status == HttpStatusCode.OK);
        Assert.All(claims.Where(c => c.Status != HttpStatusCode.OK), c =>
        {
            Assert.Equal(HttpStatusCode.Conflict, c.Status);
            Assert.Equal("active_claim", c.Json["detail"]!["code"]!.GetValue<string>());
            Assert.True(c.Raw.Headers.Contains("Retry-After"));
        });
    }

    [Fact]
    public async Task Claim_response_carries_the_command_and_the_same_worker_may_repeat_it()
    {
        var (executionId, eventId) = await IssueOneCommandAsync();
        var first = await Http.Claim(eventId, "repeat-worker");
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal("ok", first.Json["status"]!.GetValue<string>());
        Assert.Equal(executionId, first.Json["execution_id"]!.GetValue<long>());
        Assert.Equal("start", first.Json["node_name"]!.GetValue<string>());
        Assert.Equal("noop", first.Json["action"]!.GetValue<string>());
        Assert.Equal("noop", first.Json["context"]!["tool_config"]!["kind"]!.GetValue<string>());
        Assert.True(first.Json["meta"]!["command_id"]!.GetValue<long>() > 0);

        var again = await Http.Claim(eventId, "repeat-worker");
        Assert.Equal(HttpStatusCode.OK, again.Status);
        var claimedEvents = (await Http.Events(executionId)).Count(e => e!["event_type"]!.GetValue<string>() == "command.claimed");
        Assert.Equal(1, claimedEvents);
    }

    [Fact]
    public async Task Unknown_event_id_is_404()
    {
        var response = await Http.Claim(123456789012345, "nobody");
        Assert.Equal(HttpStatusCode.NotFound, response.Status);
        Assert.Equal("command not found: 123456789012345", response.Json["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Claim_after_completion_is_409_already_terminal()
    {
        var (executionId, eventId) = await IssueOneCommandAsync();
        var worker = new SimulatedWorker(Http, "finisher");
        await worker.RunToCompletionAsync(executionId, _ => new JsonObject());

        var late = await Http.Claim(eventId, "late");
        Assert.Equal(HttpStatusCode.Conflict, late.Status);
        Assert.Equal("already_terminal", late.Json["detail"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Another_worker_reclaims_after_the_lease_expires()
    {
        var (executionId, eventId) = await IssueOneCommandAsync();
        Assert.Equal(HttpStatusCode.OK, (await Http.Claim(eventId, "vanishing-worker")).Status);

        var early = await Http.Claim(eventId, "rescuer");
        Assert.Equal(HttpStatusCode.Conflict, early.Status);

        await Task.Delay(TimeSpan.FromSeconds(2.5)); // lease is 2 s in this fixture; the holder never registered
        var reclaim = await Http.Claim(eventId, "rescuer");
        Assert.Equal(HttpStatusCode.OK, reclaim.Status);
        Assert.True(reclaim.Json["meta"]!["reclaimed"]!.GetValue<bool>());
        Assert.Equal("vanishing-worker", reclaim.Json["meta"]!["reclaimed_from_worker"]!.GetValue<string>());
        Assert.Equal("worker_inactive", reclaim.Json["meta"]!["reclaimed_reason"]!.GetValue<string>());

        await new SimulatedWorker(Http, "rescuer").CompleteAsync(reclaim.Json, new JsonObject());
        Assert.Equal("COMPLETED", (await Http.Status(executionId))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_stale_workers_completion_after_a_reclaim_is_rejected_and_changes_nothing()
    {
        var (executionId, eventId) = await IssueOneCommandAsync();
        var first = await Http.Claim(eventId, "stale-worker");
        Assert.Equal(1, first.Json["lease_epoch"]!.GetValue<int>());
        var commandId = first.Json["meta"]!["command_id"]!.GetValue<long>();
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var second = await Http.Claim(eventId, "fresh-worker");
        Assert.Equal(HttpStatusCode.OK, second.Status);
        Assert.Equal(2, second.Json["lease_epoch"]!.GetValue<int>());
        Assert.Equal(2, second.Json["meta"]!["lease_epoch"]!.GetValue<int>());
        var eventsBefore = (await Http.Events(executionId)).Count;

        JsonObject Completed(int? epoch) => new()
        {
            ["execution_id"] = executionId,
            ["step"] = "start",
            ["name"] = "command.completed",
            ["worker_id"] = "stale-worker",
            ["meta"] = epoch is null ? null : new JsonObject { ["lease_epoch"] = epoch },
            ["payload"] = new JsonObject { ["command_id"] = commandId, ["result"] = new JsonObject { ["status"] = "COMPLETED" } },
        };
        foreach (var stale in new[] { Completed(1), Completed(null) }) // with the old epoch, and as a worker that sends none
        {
            var rejected = await Http.Post("/api/events", stale);
            Assert.Equal(HttpStatusCode.Conflict, rejected.Status);
            Assert.Equal("stale_lease", rejected.Json["detail"]!["code"]!.GetValue<string>());
        }
        Assert.Equal(eventsBefore, (await Http.Events(executionId)).Count);
        Assert.Equal("RUNNING", (await Http.Status(executionId))["status"]!.GetValue<string>());

        await new SimulatedWorker(Http, "fresh-worker").CompleteAsync(second.Json, new JsonObject());
        Assert.Equal("COMPLETED", (await Http.Status(executionId))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_registered_worker_with_a_fresh_heartbeat_keeps_its_claim_past_the_lease()
    {
        var (_, eventId) = await IssueOneCommandAsync();
        var holder = $"healthy-{Guid.NewGuid():N}";
        Assert.Equal(HttpStatusCode.OK, (await Http.Post("/api/worker/pool/register", new { name = holder, runtime = "dotnet" })).Status);
        Assert.Equal(HttpStatusCode.OK, (await Http.Claim(eventId, holder)).Status);

        await Task.Delay(TimeSpan.FromSeconds(2.5));
        Assert.Equal(HttpStatusCode.OK, (await Http.Post("/api/worker/pool/heartbeat", new { name = holder })).Status);
        var other = await Http.Claim(eventId, "impatient");
        Assert.Equal(HttpStatusCode.Conflict, other.Status);
        Assert.Equal(holder, other.Json["detail"]!["worker_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Get_command_returns_the_command_without_side_effects()
    {
        var (executionId, eventId) = await IssueOneCommandAsync();
        var command = await Http.Get($"/api/commands/{eventId}");
        Assert.Equal(HttpStatusCode.OK, command.Status);
        Assert.Equal("start", command.Json["node_name"]!.GetValue<string>());
        Assert.DoesNotContain(await Http.Events(executionId), e => e!["event_type"]!.GetValue<string>() == "command.claimed");
    }

    [Fact]
    public async Task Get_command_of_a_finished_command_answers_the_same_shape_from_its_stored_row()
    {
        var (executionId, eventId) = await IssueOneCommandAsync();
        var open = await Http.Get($"/api/commands/{eventId}");
        await new SimulatedWorker(Http, "finisher").RunToCompletionAsync(executionId, _ => new JsonObject());

        // The grain keeps no context or meta of a finished command: they come from noetl.command, as issued.
        var finished = await Http.Get($"/api/commands/{eventId}");
        Assert.Equal(HttpStatusCode.OK, finished.Status);
        Assert.Equal("COMPLETED", finished.Json["status"]!.GetValue<string>());
        foreach (var key in new[] { "execution_id", "node_id", "node_name", "action", "context", "meta" })
            Assert.True(JsonNode.DeepEquals(open.Json[key], finished.Json[key]), $"{key}: {open.Json[key]?.ToJsonString()} / {finished.Json[key]?.ToJsonString()}");
    }
}
