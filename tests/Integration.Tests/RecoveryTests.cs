using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>An execution grain keeps its state in memory only; a new activation rebuilds it from noetl.event.</summary>
public sealed class RecoveryTests : IAsyncLifetime
{
    private NoEtlSystem _system = null!;

    public async Task InitializeAsync() => _system = await NoEtlSystem.StartAsync(silos: 1, poolSize: 6);

    public async Task DisposeAsync() => await _system.DisposeAsync();

    [Fact]
    public async Task An_execution_continues_on_a_new_silo_from_its_log()
    {
        var http = _system.Http;
        var path = $"tests/recovery_{Guid.NewGuid():N}";
        await http.Register(Playbooks.ThreeSteps(path));
        var executionId = await http.Execute(path);
        var worker = new SimulatedWorker(http, "survivor");

        // Run the first step on silo 1.
        var first = Assert.Single(await worker.PendingCommandEventsAsync(executionId));
        var claim = await http.Claim(first, "survivor");
        Assert.Equal(HttpStatusCode.OK, claim.Status);
        await worker.CompleteAsync(claim.Json, new JsonObject { ["message"] = "before restart" });

        // Replace the silo: the execution's activation is gone with it.
        var replacement = await _system.StartSiloAsync();
        await _system.Silos[0].StopAsync(TimeSpan.FromSeconds(30));

        var status = await RetryAsync(() => worker.RunToCompletionAsync(executionId,
            c => c["node_name"]!.GetValue<string>() == "double"
                ? new JsonObject { ["value"] = c["context"]!["input"]!["count"]!.GetValue<int>() * 10 }
                : new JsonObject(), TimeSpan.FromSeconds(60)));
        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
        Assert.False(replacement.HasExited);

        // The state rebuilt from the log rendered the second command from the first step's result.
        var second = worker.Claims.Single(c => c["node_name"]!.GetValue<string>() == "double");
        Assert.Equal("before restart", second["context"]!["input"]!["previous"]!.GetValue<string>());
        var third = worker.Claims.Single(c => c["node_name"]!.GetValue<string>() == "finish");
        Assert.Equal(20, third["context"]!["input"]!["doubled"]!.GetValue<int>());
        var types = (await http.Events(executionId)).Select(e => e!["event_type"]!.GetValue<string>()).ToList();
        Assert.Equal(3, types.Count(t => t == "command.issued"));
        Assert.Equal(1, types.Count(t => t == "playbook.completed"));
    }

    /// <summary>Calls made while the gateway still lists the stopped silo may fail once; the work itself is idempotent.</summary>
    private static async Task<T> RetryAsync<T>(Func<Task<T>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (Exception) when (attempt < 3)
            {
                await Task.Delay(1000);
            }
        }
    }
}
