using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;
using NoEtl.Worker.Runtime;

namespace NoEtl.Worker.Tests;

public class PoolRegistrationTests
{
    [Fact]
    public async Task Registers_heartbeats_re_registers_when_forgotten_and_deregisters_on_stop()
    {
        var heartbeats = 0;
        await using var server = await FakeHttp.StartAsync((app, _) =>
        {
            app.MapPost("/api/worker/pool/register", () => FakeHttp.Json(new JsonObject { ["status"] = "ok" }));
            app.MapPost("/api/worker/pool/heartbeat", () => ++heartbeats == 1
                ? FakeHttp.Json(new JsonObject { ["detail"] = new JsonObject { ["status"] = "unknown" } }, 404)
                : FakeHttp.Json(new JsonObject { ["status"] = "ok" }));
            app.MapPost("/api/worker/pool/deregister", () => FakeHttp.Json(new JsonObject { ["status"] = "ok" }));
        });
        var options = TestKit.Options(server.Url);
        options.Pool = "system";
        options.HeartbeatInterval = TimeSpan.FromMilliseconds(50);
        var registration = new PoolRegistration(TestKit.Server(options), options, NullLogger<PoolRegistration>.Instance);

        await registration.StartAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (heartbeats < 3 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        await registration.StopAsync(CancellationToken.None);

        Assert.True(heartbeats >= 3);
        var registers = server.To("/api/worker/pool/register").ToList();
        Assert.Equal(2, registers.Count);
        Assert.StartsWith("""{"name":"test-worker","component_type":"worker_pool","runtime":"dotnet","status":"ready","hostname":""",
            registers[0].Body!.ToJsonString());
        Assert.Equal("system", registers[0].Body!["labels"]!["pool_name"]!.GetValue<string>());
        Assert.All(server.To("/api/worker/pool/heartbeat"), h => Assert.Equal("""{"name":"test-worker"}""", h.Body!.ToJsonString()));
        Assert.Equal("""{"name":"test-worker","component_type":"worker_pool"}""", server.To("/api/worker/pool/deregister").Single().Body!.ToJsonString());
        Assert.Equal("/api/worker/pool/deregister", server.Requests.Last().Path);
    }
}
