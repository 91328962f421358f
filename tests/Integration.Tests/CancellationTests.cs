using System.Net;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>Cancel closes the execution's open commands, and its cascade to children survives failures.</summary>
[Collection(SystemCollection.Name)]
public sealed class CancellationTests(SystemFixture fixture)
{
    private const string SystemPool = "Bearer " + NoEtlSystem.InternalToken;
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_cascade_that_failed_is_retried_until_the_child_is_cancelled()
    {
        var (parent, child) = await ParentAndChildAsync();

        await using (await fixture.System.FailInsertsAsync("noetl.event", $"NEW.execution_id = {child} AND NEW.event_type = 'execution.cancelled'"))
        {
            var cancel = await Http.Post($"/api/executions/{parent}/cancel", new { reason = "cascade under fault" });
            Assert.Equal(HttpStatusCode.OK, cancel.Status); // the parent's cancel is durable; the child's is owed
            Assert.Equal(new[] { parent.ToString() }, cancel.Json["cancelled_executions"]!.AsArray().Select(n => n!.GetValue<string>()));
            Assert.Equal("RUNNING", (await Http.Status(child))["status"]!.GetValue<string>());
        }

        // Nobody calls again: the parent's retry timer cancels the child once its writes succeed.
        await Eventually.WaitForAsync(async () => (await Http.Status(child))["status"]!.GetValue<string>() == "CANCELLED",
            "the owed cascade to reach the child");
    }

    [Fact]
    public async Task A_repeated_cancel_of_a_cancelled_execution_runs_its_cascade_again()
    {
        var (parent, child) = await ParentAndChildAsync();
        await using (await fixture.System.FailInsertsAsync("noetl.event", $"NEW.execution_id = {child} AND NEW.event_type = 'execution.cancelled'"))
            Assert.Equal(HttpStatusCode.OK, (await Http.Post($"/api/executions/{parent}/cancel", new { reason = "first" })).Status);

        var again = await Http.Post($"/api/executions/{parent}/cancel", new { reason = "again" });

        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal("already_completed", again.Json["status"]!.GetValue<string>()); // NoETL's reply for a terminal execution
        Assert.Equal("CANCELLED", (await Http.Status(child))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Cancel_closes_open_commands_and_the_purge_removes_them_with_the_start_key()
    {
        var path = $"tests/cancel_commands_{Guid.NewGuid():N}";
        var (catalogId, _) = await Http.Register(Playbooks.OneStep(path));
        var key = $"cancelled-start-{Guid.NewGuid():N}";
        var start = await Http.Send(HttpMethod.Post, "/api/execute", new { path }, headers: new Dictionary<string, string> { ["Idempotency-Key"] = key });
        var executionId = long.Parse(start.Json["execution_id"]!.GetValue<string>());
        var pending = Assert.Single(await new SimulatedWorker(Http, "w").PendingCommandEventsAsync(executionId));

        Assert.Equal(HttpStatusCode.OK, (await Http.Post($"/api/executions/{executionId}/cancel")).Status);

        Assert.Equal("CANCELLED", await fixture.System.AdminScalarAsync("SELECT status FROM noetl.command WHERE execution_id = $1", executionId));
        var claim = await Http.Claim(pending, "late-worker");
        Assert.Equal(HttpStatusCode.Conflict, claim.Status);
        Assert.Equal("already_terminal", claim.Json["detail"]!["code"]!.GetValue<string>());

        // Past the retention, the cancelled command and the start's idempotency key are purged; running work is not.
        var running = await Http.Execute(path);
        await fixture.System.AdminScalarAsync("UPDATE noetl.command SET completed_at = completed_at - interval '8 days' WHERE execution_id = $1", executionId);
        await fixture.System.AdminScalarAsync("UPDATE noetl.execution SET end_time = end_time - interval '8 days' WHERE execution_id = $1", executionId);
        var purge = await Http.Send(HttpMethod.Post, "/api/internal/cleanup/purge", new { }, bearer: SystemPool);
        Assert.Equal(HttpStatusCode.OK, purge.Status);
        Assert.True(purge.Json["idempotency_keys_purged"]!.GetValue<int>() >= 1);
        Assert.Equal(0L, await fixture.System.AdminScalarAsync("SELECT count(*) FROM noetl.command WHERE execution_id = $1", executionId));
        Assert.Equal(0L, await fixture.System.AdminScalarAsync("SELECT count(*) FROM noetl.execution_request WHERE idempotency_key = $1", key));
        Assert.Equal(1L, await fixture.System.AdminScalarAsync("SELECT count(*) FROM noetl.command WHERE execution_id = $1", running));
        Assert.Equal(2L, await fixture.System.AdminScalarAsync("SELECT count(*) FROM noetl.execution WHERE catalog_id = $1", catalogId));
    }

    private async Task<(long Parent, long Child)> ParentAndChildAsync()
    {
        var path = $"tests/cascade_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var parent = await Http.Execute(path);
        var child = await Http.Post("/api/execute", new { path, parent_execution_id = parent.ToString() });
        Assert.Equal(HttpStatusCode.OK, child.Status);
        return (parent, long.Parse(child.Json["execution_id"]!.GetValue<string>()));
    }
}
