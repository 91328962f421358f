using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

[Collection(SystemCollection.Name)]
public sealed class WorkerPoolTests(SystemFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Register_heartbeat_and_deregister_show_in_the_pool_list()
    {
        var name = $"rust-worker-{Guid.NewGuid():N}";
        var register = await Http.Post("/api/worker/pool/register", new JsonObject
        {
            ["name"] = name,
            ["component_type"] = "worker_pool", // Rust worker extras are ignored
            ["runtime"] = "rust",
            ["status"] = "READY",
            ["hostname"] = "host-1",
            ["labels"] = new JsonObject { ["pool_name"] = "shared" },
        });
        Assert.Equal(HttpStatusCode.OK, register.Status);
        Assert.Equal("worker_pool", register.Json["kind"]!.GetValue<string>());
        Assert.True(long.Parse(register.Json["runtime_id"]!.GetValue<string>()) > 0);

        Assert.Equal("ok", (await Http.Post("/api/worker/pool/heartbeat", new { name })).Json["status"]!.GetValue<string>());
        var listed = await Http.Get("/api/worker/pools?runtime=rust");
        var entry = listed.Json["items"]!.AsArray().Single(i => i!["name"]!.GetValue<string>() == name);
        Assert.Equal("ready", entry!["status"]!.GetValue<string>());
        Assert.Equal("shared", entry["labels"]!["pool_name"]!.GetValue<string>());

        var deregister = await Http.Send(HttpMethod.Post, "/api/worker/pool/deregister", new { name });
        Assert.Equal(HttpStatusCode.OK, deregister.Status);
        var offline = await Http.Get("/api/worker/pools?status=offline");
        Assert.Contains(offline.Json["items"]!.AsArray(), i => i!["name"]!.GetValue<string>() == name);
    }

    [Fact]
    public async Task A_heartbeat_from_an_unknown_worker_registers_it()
    {
        var name = $"amnesiac-{Guid.NewGuid():N}";
        var heartbeat = await Http.Post("/api/worker/pool/heartbeat", new { name });
        Assert.Equal(HttpStatusCode.OK, heartbeat.Status);
        Assert.Equal("recreated", heartbeat.Json["status"]!.GetValue<string>());
        var listed = await Http.Get("/api/worker/pools?status=ready");
        Assert.Contains(listed.Json["items"]!.AsArray(), i => i!["name"]!.GetValue<string>() == name);
        Assert.Equal(HttpStatusCode.OK, (await Http.Send(HttpMethod.Delete, "/api/worker/pool/deregister", new { name })).Status);
    }
}

[Collection(SystemCollection.Name)]
public sealed class EventBatchTests(SystemFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_batch_is_accepted_with_202_and_drives_the_execution()
    {
        var path = $"tests/batch_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.ThreeSteps(path));
        var executionId = await Http.Execute(path);
        var worker = new SimulatedWorker(Http, "batcher");
        var eventId = Assert.Single(await worker.PendingCommandEventsAsync(executionId));
        var claim = await Http.Claim(eventId, "batcher");
        var commandId = claim.Json["meta"]!["command_id"]!.GetValue<long>();

        JsonObject Item(string name, JsonObject? result = null) => new()
        {
            ["step"] = "start",
            ["name"] = name,
            ["actionable"] = name == "call.done",
            ["payload"] = new JsonObject { ["command_id"] = commandId, ["result"] = result },
        };
        var batch = await Http.Send(HttpMethod.Post, "/api/events/batch", new JsonObject
        {
            ["execution_id"] = executionId.ToString(),
            ["worker_id"] = "batcher",
            ["events"] = new JsonArray
            {
                Item("command.started"),
                Item("call.done", new JsonObject { ["status"] = "COMPLETED", ["context"] = new JsonObject { ["message"] = "batched" } }),
                Item("command.completed", new JsonObject { ["status"] = "COMPLETED" }),
            },
        }, headers: new Dictionary<string, string> { ["Idempotency-Key"] = "k-1" });

        Assert.Equal(HttpStatusCode.Accepted, batch.Status);
        Assert.Equal("accepted", batch.Json["status"]!.GetValue<string>());
        Assert.Equal(3, batch.Json["event_ids"]!.AsArray().Count);
        Assert.Equal(1, batch.Json["commands_generated"]!.GetValue<int>());

        var status = await worker.RunToCompletionAsync(executionId, c => new JsonObject { ["value"] = 1 });
        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
        Assert.Equal("batched", worker.Claims.Single(c => c["node_name"]!.GetValue<string>() == "double")["context"]!["input"]!["previous"]!.GetValue<string>());
    }
}
