using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using NoEtl.Worker.Commands;
using NoEtl.Worker.Runtime;

namespace NoEtl.Worker.Tests;

public class CommandRunnerTests
{
    private static async Task<(FakeHttp Server, CommandRunner Runner)> StartAsync(string claimBody, int claimStatus = 200, string? token = null, WorkerKeychain? keychain = null)
    {
        var server = await FakeHttp.StartAsync((app, _) =>
        {
            app.MapPost("/api/commands/{id}/claim", (HttpContext http) =>
            {
                if (claimStatus == 503)
                {
                    http.Response.Headers.RetryAfter = "3";
                }
                return FakeHttp.Json(JsonNode.Parse(claimBody)!, claimStatus);
            });
            app.MapPost("/api/events", () => FakeHttp.Json(new JsonObject { ["status"] = "ok", ["event_id"] = 1 }));
        });
        var options = TestKit.Options(server.Url, token);
        var client = TestKit.Server(options);
        keychain ??= new WorkerKeychain(new Dictionary<string, string>());
        var runner = new CommandRunner(client, TestKit.Executor(client, keychain), keychain, options, NullLogger<CommandRunner>.Instance);
        return (server, runner);
    }

    private static CommandNotification Notification(string serverUrl) => new(100, 200, "300", "fetch", serverUrl);

    [Fact]
    public async Task Successful_command_posts_started_done_completed_with_bearer()
    {
        var (server, runner) = await StartAsync("""
            {"status": "ok", "event_id": 200, "execution_id": 100, "node_name": "fetch",
             "context": {"tool_config": {"kind": "noop", "result": {"n": 2, "who": "me"}}, "input": {"who": "me"}, "render_context": {"workload": {"n": 2}}},
             "meta": {"command_id": 300}}
            """, token: "tok");
        await using var _ = server;
        var claim = await runner.ClaimAsync(Notification(server.Url), CancellationToken.None);
        Assert.Equal(ClaimDecision.Run, claim.Decision);
        await runner.RunAsync(Notification(server.Url), claim.Command!, CancellationToken.None);

        Assert.Equal("test-worker", server.To("/api/commands/200/claim").Single().Body!["worker_id"]!.GetValue<string>());
        var events = server.To("/api/events").ToList();
        Assert.Equal(["command.started", "call.done", "command.completed"], events.Select(e => e.Body!["name"]!.GetValue<string>()));
        Assert.All(server.Requests, r => Assert.Equal("Bearer tok", r.Authorization));
        foreach (var e in events)
        {
            Assert.Equal(100, e.Body!["execution_id"]!.GetValue<long>());
            Assert.Equal("fetch", e.Body["step"]!.GetValue<string>());
            Assert.Equal("test-worker", e.Body["worker_id"]!.GetValue<string>());
            Assert.Equal(300, e.Body["payload"]!["command_id"]!.GetValue<long>());
            Assert.Equal(300, e.Body["meta"]!["command_id"]!.GetValue<long>());
        }
        Assert.Equal("""{"status":"COMPLETED","context":{"n":2,"who":"me"}}""", events[1].Body!["payload"]!["result"]!.ToJsonString());
        Assert.Equal("""{"status":"COMPLETED"}""", events[2].Body!["payload"]!["result"]!.ToJsonString());
    }

    [Fact]
    public async Task Call_done_carries_the_whole_tool_result_even_beside_its_own_data_key_and_the_config_is_not_rendered_again()
    {
        // The server rendered this config; "{{ ... }}" left in it is data (here a workload value), not a template.
        var (server, runner) = await StartAsync("""
            {"execution_id": 100, "node_name": "start",
             "context": {"tool_config": {"kind": "python", "code": "result = {'status': 'ok', 'data': {'rows': [1, 2]}, 'count': 2, 'note': '{{ workload.n }}'}"},
                         "render_context": {"workload": {"n": 2}}},
             "meta": {"command_id": 300}}
            """);
        await using var _ = server;
        var claim = await runner.ClaimAsync(Notification(server.Url), CancellationToken.None);
        await runner.RunAsync(Notification(server.Url), claim.Command!, CancellationToken.None);

        var done = server.To("/api/events").Single(e => e.Body!["name"]!.GetValue<string>() == "call.done").Body!;
        Assert.Equal("""{"status":"ok","data":{"rows":[1,2]},"count":2,"note":"{{ workload.n }}"}""",
            done["payload"]!["result"]!["context"]!["data"]!.ToJsonString());
    }

    [Fact]
    public async Task A_python_result_with_status_error_ends_in_call_error_and_command_failed()
    {
        var (server, runner) = await StartAsync("""
            {"execution_id": 100, "context": {"tool_config": {"kind": "python", "code": "result = {'status': 'error', 'message': 'no rows for 2024-01-01'}"}}, "meta": {"command_id": 300}}
            """);
        await using var _ = server;
        var claim = await runner.ClaimAsync(Notification(server.Url), CancellationToken.None);
        await runner.RunAsync(Notification(server.Url), claim.Command!, CancellationToken.None);

        var events = server.To("/api/events").Select(e => e.Body!).ToList();
        Assert.Equal(["command.started", "call.error", "command.failed"], events.Select(e => e["name"]!.GetValue<string>()));
        Assert.Equal("no rows for 2024-01-01", events[2]["payload"]!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Failing_command_posts_call_error_and_command_failed_without_secrets()
    {
        var keychain = new WorkerKeychain(new Dictionary<string, string> { ["PW"] = "hunter2-long-secret" });
        var (server, runner) = await StartAsync("""
            {"execution_id": "100", "context": {"tool_config": {"kind": "shell", "command": "echo {{ keychain.PW }}; exit 2"}}, "meta": {"command_id": "100:fetch:200"}}
            """, keychain: keychain);
        await using var _ = server;
        var claim = await runner.ClaimAsync(Notification(server.Url), CancellationToken.None);
        await runner.RunAsync(Notification(server.Url), claim.Command!, CancellationToken.None);

        var events = server.To("/api/events").ToList();
        Assert.Equal(["command.started", "call.error", "command.failed"], events.Select(e => e.Body!["name"]!.GetValue<string>()));
        var callError = events[1].Body!["payload"]!;
        Assert.Equal("100:fetch:200", callError["command_id"]!.GetValue<string>());
        Assert.Equal("FAILED", callError["result"]!["status"]!.GetValue<string>());
        Assert.Contains("exited with code 2", callError["error"]!["message"]!.GetValue<string>());
        Assert.Contains("exited with code 2", callError["result"]!["context"]!["error"]!.GetValue<string>());
        Assert.Contains("exited with code 2", events[2].Body!["payload"]!["error"]!.GetValue<string>());
        Assert.DoesNotContain("hunter2-long-secret", string.Concat(events.Select(e => e.Body!.ToJsonString())));
        Assert.Contains("[REDACTED]", callError["result"]!["context"]!["data"]!["stdout"]!.GetValue<string>());
    }

    [Fact]
    public async Task Server_url_in_the_notification_is_ignored_and_every_callback_goes_to_the_configured_server()
    {
        // The attack: a notification (or a workload overriding server_url) pointing the worker, and its token, elsewhere.
        await using var decoy = await FakeHttp.StartAsync((_, _) => { });
        await using var server = await FakeHttp.StartAsync((app, _) =>
        {
            app.MapPost("/api/commands/{id}/claim", () => FakeHttp.Json(JsonNode.Parse("""
                {"execution_id": 100, "context": {"tool_config": {"kind": "playbook", "path": "child/pb"}}, "meta": {"command_id": 300}}
                """)!));
            app.MapPost("/api/execute", () => FakeHttp.Json(new JsonObject { ["execution_id"] = "901" }));
            app.MapPost("/api/events", () => FakeHttp.Json(new JsonObject { ["status"] = "ok" }));
        });
        var options = TestKit.Options(server.Url, "tok");
        var client = TestKit.Server(options);
        var keychain = new WorkerKeychain(new Dictionary<string, string>());
        var runner = new CommandRunner(client, TestKit.Executor(client, keychain), keychain, options, NullLogger<CommandRunner>.Instance);

        var claim = await runner.ClaimAsync(Notification(decoy.Url), CancellationToken.None);
        Assert.Equal(ClaimDecision.Run, claim.Decision);
        await runner.RunAsync(Notification(decoy.Url), claim.Command!, CancellationToken.None);

        Assert.Empty(decoy.Requests);
        Assert.Single(server.To("/api/commands/200/claim"));
        Assert.Single(server.To("/api/execute"));
        Assert.Equal(["command.started", "call.done", "command.completed"], server.To("/api/events").Select(e => e.Body!["name"]!.GetValue<string>()));
    }

    [Theory]
    [InlineData("""{"lease_epoch": 4, "lease_token": "lt-top", "context": {"tool_config": {"kind": "noop"}}, "meta": {"command_id": 300, "lease_token": "lt-meta"}}""", "lt-top", "call.done")]
    [InlineData("""{"context": {"tool_config": {"kind": "shell", "command": "exit 2"}}, "meta": {"command_id": 300, "lease_epoch": 4, "lease_token": "lt-meta"}}""", "lt-meta", "call.error")]
    [InlineData("""{"lease_epoch": 4, "context": {"tool_config": {"kind": "noop"}}, "meta": {"command_id": 300}}""", null, "call.done")]
    public async Task Lease_token_from_the_claim_is_echoed_in_every_event_and_absent_when_the_server_sends_none(string claimBody, string? token, string call)
    {
        var (server, runner) = await StartAsync(claimBody);
        await using var _ = server;
        var claim = await runner.ClaimAsync(Notification(server.Url), CancellationToken.None);
        await runner.RunAsync(Notification(server.Url), claim.Command!, CancellationToken.None);

        var events = server.To("/api/events").Select(e => e.Body!).ToList();
        Assert.Equal(["command.started", call, call == "call.done" ? "command.completed" : "command.failed"], events.Select(e => e["name"]!.GetValue<string>()));
        foreach (var meta in events.Select(e => e["meta"]!.AsObject()))
        {
            Assert.Equal(4, meta["lease_epoch"]!.GetValue<long>());
            Assert.Equal(token, meta["lease_token"]?.GetValue<string>());
            Assert.Equal(token is not null, meta.ContainsKey("lease_token"));
        }
    }

    [Theory]
    [InlineData(409, ClaimDecision.Drop)]
    [InlineData(503, ClaimDecision.Retry)]
    [InlineData(404, ClaimDecision.Retry)]
    public async Task Claim_status_decides_ack_nak_or_drop(int status, ClaimDecision expected)
    {
        var (server, runner) = await StartAsync("""{"detail": {"code": "active_claim"}}""", status);
        await using var _ = server;
        var claim = await runner.ClaimAsync(Notification(server.Url), CancellationToken.None);
        Assert.Equal(expected, claim.Decision);
        if (status == 503)
        {
            Assert.Equal(TimeSpan.FromSeconds(3), claim.RetryAfter);
        }
    }

    [Fact]
    public async Task Unreachable_server_means_retry()
    {
        var options = TestKit.Options("http://127.0.0.1:1");
        var client = TestKit.Server(options);
        var keychain = new WorkerKeychain(new Dictionary<string, string>());
        var runner = new CommandRunner(client, TestKit.Executor(client, keychain), keychain, options, NullLogger<CommandRunner>.Instance);
        var claim = await runner.ClaimAsync(Notification("http://127.0.0.1:1"), CancellationToken.None);
        Assert.Equal(ClaimDecision.Retry, claim.Decision);
    }

    [Fact]
    public async Task Event_posts_retry_through_server_errors()
    {
        var eventCalls = 0;
        await using var server = await FakeHttp.StartAsync((app, _) =>
        {
            app.MapPost("/api/commands/{id}/claim", () => FakeHttp.Json(JsonNode.Parse("""{"context": {"tool_config": {"kind": "noop"}}}""")!));
            app.MapPost("/api/events", () => ++eventCalls % 2 == 1
                ? FakeHttp.Json(new JsonObject { ["code"] = "db_unavailable" }, 503)
                : FakeHttp.Json(new JsonObject { ["status"] = "ok" }));
        });
        var options = TestKit.Options(server.Url);
        var client = TestKit.Server(options);
        var keychain = new WorkerKeychain(new Dictionary<string, string>());
        var runner = new CommandRunner(client, TestKit.Executor(client, keychain), keychain, options, NullLogger<CommandRunner>.Instance);
        var claim = await runner.ClaimAsync(Notification(server.Url), CancellationToken.None);
        await runner.RunAsync(Notification(server.Url), claim.Command!, CancellationToken.None);
        Assert.Equal(6, eventCalls);
        Assert.Equal(["command.started", "call.done", "command.completed"],
            server.To("/api/events").Select(e => e.Body!["name"]!.GetValue<string>()).Distinct());
    }

    [Fact]
    public async Task Large_results_go_to_the_result_store_and_the_event_carries_the_reference()
    {
        await using var server = await FakeHttp.StartAsync((app, _) =>
        {
            app.MapPost("/api/commands/{id}/claim", () => FakeHttp.Json(JsonNode.Parse("""
                {"execution_id": 100, "context": {"tool_config": {"kind": "python", "code": "result = {'blob': 'x' * 200000}"}}}
                """)!));
            app.MapPut("/api/result/{eid}", (string eid) => FakeHttp.Json(new JsonObject { ["ref"] = $"noetl://execution/{eid}/result/fetch/1", ["store"] = "disk", ["bytes"] = 200012 }));
            app.MapPost("/api/events", () => FakeHttp.Json(new JsonObject { ["status"] = "ok" }));
        });
        var options = TestKit.Options(server.Url);
        var client = TestKit.Server(options);
        var keychain = new WorkerKeychain(new Dictionary<string, string>());
        var runner = new CommandRunner(client, TestKit.Executor(client, keychain), keychain, options, NullLogger<CommandRunner>.Instance);
        var claim = await runner.ClaimAsync(Notification(server.Url), CancellationToken.None);
        await runner.RunAsync(Notification(server.Url), claim.Command!, CancellationToken.None);

        var stored = server.To("/api/result/100").Single().Body!;
        Assert.Equal("fetch", stored["name"]!.GetValue<string>());
        Assert.Equal(200000, stored["data"]!["blob"]!.GetValue<string>().Length);
        var done = server.To("/api/events").Single(e => e.Body!["name"]!.GetValue<string>() == "call.done").Body!;
        Assert.Equal("noetl://execution/100/result/fetch/1", done["payload"]!["result"]!["reference"]!["ref"]!.GetValue<string>());
        Assert.Null(done["payload"]!["result"]!["context"]);
    }
}
