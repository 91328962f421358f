using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.JetStream;
using NoEtl.Worker.Runtime;

namespace NoEtl.Worker.Tests;

/// <summary>The whole worker host against real JetStream and a fake NoETL server.</summary>
[Collection("nats")]
public class WorkerHostTests(NatsFixture nats)
{
    [Fact]
    public async Task Runs_claimed_commands_drops_409s_terminates_garbage_and_drains_on_stop()
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        await using var server = await FakeHttp.StartAsync((app, _) =>
        {
            app.MapPost("/api/worker/pool/{action}", (string action) => FakeHttp.Json(new JsonObject { ["status"] = "ok", ["action"] = action }));
            app.MapPost("/api/commands/{eventId:long}/claim", (long eventId) => eventId switch
            {
                1 => FakeHttp.Json(Claim("""{"kind": "noop", "result": {"hello": "you"}}""")),
                3 => FakeHttp.Json(Claim("""{"kind": "shell", "command": "sleep 1; echo drained"}""")),
                _ => FakeHttp.Json(new JsonObject { ["detail"] = new JsonObject { ["code"] = "already_terminal" } }, 409),
            });
            app.MapPost("/api/events", () => FakeHttp.Json(new JsonObject { ["status"] = "ok" }));
        });

        var options = new WorkerOptions
        {
            ServerUrls = [server.Url],
            WorkerId = $"w-{id}",
            HeartbeatInterval = TimeSpan.FromMilliseconds(200),
            DrainTimeout = TimeSpan.FromSeconds(15),
        };
        options.Nats.Url = nats.Url;
        options.Nats.Stream = $"TEST_CMDS_{id}";
        options.Nats.Subject = $"t{id}.commands";
        options.Nats.FilterSubject = $"t{id}.commands.shared.>";
        options.Nats.Consumer = $"worker-{id}";

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddNoEtlWorker(options, new ConfigurationBuilder().Build());
        using var host = builder.Build();
        await host.StartAsync();

        var js = new NatsJSContext(nats.Connection);
        await NatsSetup.EnsureCommandStreamAsync(js, options.Nats, CancellationToken.None);
        async Task Publish(string payload) =>
            await js.PublishAsync($"t{id}.commands.shared.100", Encoding.UTF8.GetBytes(payload));
        await Publish($$"""{"execution_id": 100, "event_id": 1, "command_id": 11, "step": "a", "server_url": "{{server.Url}}"}""");
        await Publish($$"""{"execution_id": 100, "event_id": 2, "command_id": "100:b:2", "step": "b", "server_url": "{{server.Url}}"}""");
        await Publish("not json");

        await WaitUntil(() => Names(server, "a").Contains("command.completed") && server.To("/api/commands/2/claim").Any());
        Assert.Equal(["command.started", "call.done", "command.completed"], Names(server, "a"));
        Assert.Equal("""{"status":"COMPLETED","context":{"hello":"you"}}""",
            server.To("/api/events").Single(r => Step(r) == "a" && Name(r) == "call.done").Body!["payload"]!["result"]!.ToJsonString());
        Assert.Empty(Names(server, "b"));
        var register = server.To("/api/worker/pool/register").Single().Body!;
        Assert.Equal($"w-{id}", register["name"]!.GetValue<string>());
        Assert.Equal("dotnet", register["runtime"]!.GetValue<string>());
        Assert.Equal("shared", register["labels"]!["pool_name"]!.GetValue<string>());
        await WaitUntil(() => server.To("/api/worker/pool/heartbeat").Any());

        // A long command in flight when SIGTERM arrives still finishes before the worker deregisters.
        await Publish($$"""{"execution_id": 100, "event_id": 3, "command_id": 33, "step": "slow", "server_url": "{{server.Url}}"}""");
        await WaitUntil(() => Names(server, "slow").Contains("command.started"));
        await host.StopAsync();

        Assert.Equal(["command.started", "call.done", "command.completed"], Names(server, "slow"));
        var order = server.Requests.ToList();
        var lastEvent = order.FindLastIndex(r => r.Path == "/api/events");
        var deregister = order.FindIndex(r => r.Path == "/api/worker/pool/deregister");
        Assert.True(deregister > lastEvent, "deregister must follow the drained command's last event");

        // Everything was acked or terminated: nothing left for redelivery.
        var consumer = await js.GetConsumerAsync(options.Nats.Stream, options.Nats.Consumer);
        Assert.Equal(0, consumer.Info.NumAckPending);
        Assert.Equal(0UL, consumer.Info.NumPending);
        Assert.Single(server.To("/api/commands/2/claim"));
        await js.DeleteStreamAsync(options.Nats.Stream);
    }

    private static JsonObject Claim(string toolConfig) => new()
    {
        ["status"] = "ok",
        ["execution_id"] = 100,
        ["context"] = new JsonObject
        {
            ["tool_config"] = JsonNode.Parse(toolConfig),
            ["input"] = new JsonObject(),
            ["render_context"] = new JsonObject { ["workload"] = new JsonObject { ["who"] = "you" } },
        },
        ["meta"] = new JsonObject(),
    };

    private static string? Step(Recorded r) => r.Body?["step"]?.GetValue<string>();

    private static string? Name(Recorded r) => r.Body?["name"]?.GetValue<string>();

    private static List<string?> Names(FakeHttp server, string step) =>
        server.To("/api/events").Where(r => Step(r) == step).Select(Name).ToList();

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the worker");
            await Task.Delay(50);
        }
    }
}
