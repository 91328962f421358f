using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

[Collection(SystemCollection.Name)]
public sealed class EndToEndTests(SystemFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Three_step_playbook_runs_to_completed_with_rendered_inputs_and_the_contract_event_order()
    {
        var path = $"tests/three_steps_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.ThreeSteps(path));
        var executionId = await Http.Execute(path, new { greeting = "bonjour" });

        var worker = new SimulatedWorker(Http, "worker-e2e");
        var status = await worker.RunToCompletionAsync(executionId, claim => claim["node_name"]!.GetValue<string>() switch
        {
            "start" => new JsonObject { ["message"] = claim["context"]!["tool_config"]!["result"]!["message"]!.DeepClone() },
            "double" => new JsonObject { ["value"] = claim["context"]!["input"]!["count"]!.GetValue<int>() * 2 },
            _ => new JsonObject { ["ok"] = true },
        });

        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
        Assert.False(status["failed"]!.GetValue<bool>());

        // The execute payload overlays the workload, and each input is rendered from earlier results.
        var byStep = worker.Claims.ToDictionary(c => c["node_name"]!.GetValue<string>());
        Assert.Equal("bonjour", byStep["start"]["context"]!["tool_config"]!["result"]!["message"]!.GetValue<string>());
        Assert.Equal("bonjour", byStep["double"]["context"]!["input"]!["previous"]!.GetValue<string>());
        Assert.Equal(4, byStep["finish"]["context"]!["input"]!["doubled"]!.GetValue<int>());
        Assert.Equal(executionId, byStep["finish"]["execution_id"]!.GetValue<long>());

        var order = (await Http.Events(executionId))
            .Select(e => $"{e!["event_type"]}:{e["node_name"]}")
            .ToList();
        Assert.Equal(
        [
            $"playbook.initialized:{path}", "workflow.initialized:workflow",
            "command.issued:start", "command.claimed:start", "command.started:start", "call.done:start",
            "command.issued:double", "command.completed:start",
            "command.claimed:double", "command.started:double", "call.done:double",
            "command.issued:finish", "command.completed:double",
            "command.claimed:finish", "command.started:finish", "call.done:finish",
            "workflow.completed:workflow", $"playbook.completed:{path}", "command.completed:finish",
        ], order);
    }

    [Fact]
    public async Task Exclusive_branch_takes_the_matching_arc_only()
    {
        var path = $"tests/branch_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.Branch(path));
        var executionId = await Http.Execute(path, new { amount = 50 });

        var worker = new SimulatedWorker(Http, "worker-branch");
        var status = await worker.RunToCompletionAsync(executionId, _ => new JsonObject());

        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
        var steps = worker.Claims.Select(c => c["node_name"]!.GetValue<string>()).ToList();
        Assert.Equal(["start", "big"], steps);
    }

    [Fact]
    public async Task Status_list_and_detail_describe_the_execution()
    {
        var path = $"tests/one_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        await new SimulatedWorker(Http, "worker-list").RunToCompletionAsync(executionId, _ => new JsonObject { ["x"] = 1 });

        var list = await Http.Get("/api/executions?page=1&page_size=50");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        var entry = list.Json.AsArray().Single(e => e!["execution_id"]!.GetValue<string>() == executionId.ToString());
        Assert.Equal("COMPLETED", entry!["status"]!.GetValue<string>());
        Assert.Equal(path, entry["path"]!.GetValue<string>());

        var detail = await Http.Get($"/api/executions/{executionId}?page=1&page_size=10");
        Assert.Equal(HttpStatusCode.OK, detail.Status);
        Assert.Equal(9, detail.Json["pagination"]!["total_events"]!.GetValue<long>()); // one step: §4.1's nine events
        Assert.Equal(9, detail.Json["events"]!.AsArray().Count);
        Assert.False(detail.Json["pagination"]!["has_next"]!.GetValue<bool>());

        var issued = await Http.Get($"/api/executions/{executionId}/events?event_type=command.issued&page_size=10");
        var issuedEvent = Assert.Single(issued.Json["events"]!.AsArray());
        var since = await Http.Get($"/api/executions/{executionId}?since_event_id={issuedEvent!["event_id"]}&page_size=10");
        Assert.Equal(6, since.Json["events"]!.AsArray().Count);

        var check = await Http.Get($"/api/executions/{executionId}/cancellation-check");
        Assert.Equal("COMPLETED", check.Json["status"]!.GetValue<string>());
        Assert.False(check.Json["cancelled"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Catalog_keeps_versions_per_path_and_serves_them()
    {
        var path = $"tests/versions_{Guid.NewGuid():N}";
        var (first, v1) = await Http.Register(Playbooks.OneStep(path));
        var (second, v2) = await Http.Register(Playbooks.OneStep(path), base64: false);
        Assert.Equal(1, v1);
        Assert.Equal(2, v2);
        Assert.NotEqual(first, second);

        var latest = await Http.Post("/api/catalog/resource", new { path });
        Assert.Equal(2, latest.Json["version"]!.GetValue<int>());
        var byId = await Http.Post("/api/catalog/resource", new { catalog_id = first });
        Assert.Equal(1, byId.Json["version"]!.GetValue<int>());
        var list = await Http.Post("/api/catalog/list", new { path });
        Assert.Equal(2, list.Json["entries"]!.AsArray().Count);
    }

    [Fact]
    public async Task Cancel_stops_claims_and_cascades_to_children()
    {
        var path = $"tests/cancel_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var parent = await Http.Execute(path);
        var childResponse = await Http.Post("/api/execute", new { path, parent_execution_id = parent.ToString() });
        Assert.Equal(HttpStatusCode.OK, childResponse.Status);
        var child = long.Parse(childResponse.Json["execution_id"]!.GetValue<string>());

        var cancel = await Http.Post($"/api/executions/{parent}/cancel", new { reason = "test" });
        Assert.Equal(HttpStatusCode.OK, cancel.Status);
        var cancelled = cancel.Json["cancelled_executions"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        Assert.Contains(parent.ToString(), cancelled);
        Assert.Contains(child.ToString(), cancelled);

        var pending = await new SimulatedWorker(Http, "w").PendingCommandEventsAsync(child);
        var claim = await Http.Claim(pending.Single(), "late-worker");
        Assert.Equal(HttpStatusCode.Conflict, claim.Status);
        Assert.Equal("already_terminal", claim.Json["detail"]!["code"]!.GetValue<string>());
        Assert.Equal("CANCELLED", (await Http.Status(child))["status"]!.GetValue<string>());

        var again = await Http.Post($"/api/executions/{parent}/cancel");
        Assert.Equal("already_completed", again.Json["status"]!.GetValue<string>());
    }
}
