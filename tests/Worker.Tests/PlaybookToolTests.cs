using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;

namespace NoEtl.Worker.Tests;

public class PlaybookToolTests
{
    [Fact]
    public async Task Fire_and_forget_by_default()
    {
        await using var server = await FakeHttp.StartAsync((app, _) =>
            app.MapPost("/api/execute", () => FakeHttp.Json(new JsonObject { ["execution_id"] = "900", ["status"] = "started" })));
        var executor = TestKit.Executor(TestKit.Server(TestKit.Options(server.Url)));
        var outcome = await executor.ExecuteAsync("playbook", TestKit.Obj("""{"path": "child/pb", "payload": {"k": 1}}"""),
            TestKit.Context(), CancellationToken.None);
        Assert.True(outcome.Ok, outcome.Error?.Message);
        Assert.Equal("""{"status":"started","execution_id":"900","async":true}""", outcome.Data!.ToJsonString());
        var request = server.To("/api/execute").Single().Body!;
        Assert.Equal("child/pb", request["path"]!.GetValue<string>());
        Assert.Equal(1, request["payload"]!["k"]!.GetValue<int>());
        Assert.Equal(42, request["parent_execution_id"]!.GetValue<long>());
    }

    [Fact]
    public async Task Return_step_polls_until_the_child_completes()
    {
        var polls = 0;
        await using var server = await FakeHttp.StartAsync((app, _) =>
        {
            app.MapPost("/api/execute", () => FakeHttp.Json(new JsonObject { ["execution_id"] = "901" }));
            app.MapGet("/api/executions/901/status", () => ++polls < 3
                ? FakeHttp.Json(new JsonObject { ["completed"] = false, ["failed"] = false })
                : FakeHttp.Json(new JsonObject { ["completed"] = true, ["failed"] = false, ["variables"] = new JsonObject { ["end"] = new JsonObject { ["x"] = 1 } } }));
        });
        var executor = TestKit.Executor(TestKit.Server(TestKit.Options(server.Url)));
        var outcome = await executor.ExecuteAsync("playbook", TestKit.Obj("""{"path": "c", "return_step": "end", "poll_interval": 0.05}"""), TestKit.Context(), CancellationToken.None);
        Assert.True(outcome.Ok, outcome.Error?.Message);
        Assert.Equal("""{"status":"completed","execution_id":"901","result":{"x":1}}""", outcome.Data!.ToJsonString());
        Assert.Equal(3, polls);
    }

    [Fact]
    public async Task Child_failure_fails_the_command()
    {
        await using var server = await FakeHttp.StartAsync((app, _) =>
        {
            app.MapPost("/api/execute", () => FakeHttp.Json(new JsonObject { ["execution_id"] = 902 }));
            app.MapGet("/api/executions/902/status", () => FakeHttp.Json(new JsonObject { ["completed"] = true, ["failed"] = true }));
        });
        var executor = TestKit.Executor(TestKit.Server(TestKit.Options(server.Url)));
        var outcome = await executor.ExecuteAsync("playbook", TestKit.Obj("""{"path": "c", "return_result": true, "poll_interval": 0.05}"""), TestKit.Context(), CancellationToken.None);
        Assert.False(outcome.Ok);
        Assert.Contains("902 failed", outcome.Error!.Message);
    }
}
