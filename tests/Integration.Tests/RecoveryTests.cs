using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>An execution grain keeps its state in memory only; a new activation rebuilds it from noetl.event.</summary>
public sealed class RecoveryTests : IAsyncLifetime
{
    private NoEtlSystem _system = null!;

    // The operator token opens the silo's diagnostics routes (/diagnostics/memory, /diagnostics/deactivate).
    public async Task InitializeAsync() => _system = await NoEtlSystem.StartAsync(silos: 1, poolSize: 6,
        siloSettings: new Dictionary<string, string> { ["NOETL_OPERATOR_TOKEN"] = PrincipalTokens.Operator });

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

    [Fact]
    public async Task A_deactivated_execution_is_rebuilt_from_its_log_by_its_next_call()
    {
        var http = _system.Http;
        var path = $"tests/deactivated_{Guid.NewGuid():N}";
        await http.Register(Playbooks.ThreeSteps(path));
        var executionId = await http.Execute(path);
        var worker = new SimulatedWorker(http, "patient");
        var first = Assert.Single(await worker.PendingCommandEventsAsync(executionId));
        var claim = await http.Claim(first, "patient");
        await worker.CompleteAsync(claim.Json, new JsonObject { ["message"] = "before deactivation" });

        using var silo = new HttpClient(new RoleAwareTokens()) { BaseAddress = new Uri(_system.SiloUrls[0]) };
        var deactivate = new { execution_ids = new[] { executionId } };
        Assert.Equal(HttpStatusCode.Unauthorized, (await silo.Send(HttpMethod.Post, "/diagnostics/deactivate", deactivate, bearer: "")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await silo.Send(HttpMethod.Post, "/diagnostics/deactivate", deactivate, bearer: "Bearer wrong")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await silo.Send(HttpMethod.Post, "/diagnostics/deactivate", rawBody: "{\"execution_ids\": \"1\"}")).Status);
        var active = await ExecutionActivationsAsync(silo);
        Assert.True(active >= 1, $"{active} execution activations");

        Assert.Equal(HttpStatusCode.OK, (await silo.Post("/diagnostics/deactivate", deactivate)).Status);
        await Eventually.WaitForAsync(async () => await ExecutionActivationsAsync(silo) == active - 1, "the execution deactivated");

        // The first call activates it again: the state rebuilt from the log goes on where the old activation stopped.
        Assert.Equal("RUNNING", (await http.Status(executionId))["status"]!.GetValue<string>());
        Assert.Equal(active, await ExecutionActivationsAsync(silo));
        var status = await worker.RunToCompletionAsync(executionId,
            c => c["node_name"]!.GetValue<string>() == "double" ? new JsonObject { ["value"] = 1 } : new JsonObject(), TimeSpan.FromSeconds(60));
        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
        var second = worker.Claims.Single(c => c["node_name"]!.GetValue<string>() == "double");
        Assert.Equal("before deactivation", second["context"]!["input"]!["previous"]!.GetValue<string>());
    }

    [Fact]
    public async Task Every_active_execution_can_be_deactivated_at_once_and_each_goes_on_afterwards()
    {
        var http = _system.Http;
        var path = $"tests/deactivate_all_{Guid.NewGuid():N}";
        await http.Register(Playbooks.ThreeSteps(path));
        var executions = new[] { await http.Execute(path), await http.Execute(path) };
        using var silo = new HttpClient(new RoleAwareTokens()) { BaseAddress = new Uri(_system.SiloUrls[0]) };
        Assert.True(await ExecutionActivationsAsync(silo) >= 2);
        Assert.Equal(HttpStatusCode.BadRequest, (await silo.Send(HttpMethod.Post, "/diagnostics/deactivate", rawBody: "{\"all\": \"yes\"}")).Status);

        Assert.Equal(HttpStatusCode.OK, (await silo.Post("/diagnostics/deactivate", new { all = true })).Status);
        await Eventually.WaitForAsync(async () => await ExecutionActivationsAsync(silo) == 0, "every execution deactivated");

        var worker = new SimulatedWorker(http, "after-deactivate-all");
        foreach (var execution in executions)
        {
            var status = await worker.RunToCompletionAsync(execution,
                c => c["node_name"]!.GetValue<string>() == "double" ? new JsonObject { ["value"] = 1 } : new JsonObject(), TimeSpan.FromSeconds(60));
            Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task A_long_loop_deactivated_midway_collects_every_iterations_result_in_index_order()
    {
        const int Iterations = 300;
        var http = _system.Http;
        var path = $"tests/long_loop_{Guid.NewGuid():N}";
        await http.Register($$$"""
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata:
              name: long_loop
              path: {{{path}}}
            workflow:
              - step: each
                loop: {in: {{{Iterations}}}, iterator: i, spec: {mode: parallel, max_in_flight: 40}}
                tool: {kind: noop}
                next: report
              - step: report
                tool: {kind: noop}
                input: {results: "{{ each.results }}", stats: "{{ each.stats }}"}
            """);
        var executionId = await http.Execute(path);
        var worker = new SimulatedWorker(http, "long-loop");
        using var silo = new HttpClient(new RoleAwareTokens()) { BaseAddress = new Uri(_system.SiloUrls[0]) };
        var finished = 0;
        var deactivated = false;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        JsonNode? report = null;
        while (report is null)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the loop did not finish: {finished} iterations done");
            var claims = new List<JsonNode>();
            foreach (var eventId in await worker.PendingCommandEventsAsync(executionId))
            {
                var claim = await http.Claim(eventId, "long-loop");
                Assert.True(claim.Status == HttpStatusCode.OK, $"claim {eventId}: {(int)claim.Status} {claim.Text}");
                claims.Add(claim.Json);
            }
            report = claims.FirstOrDefault(c => c["node_name"]!.GetValue<string>() == "report");
            if (report is not null || claims.Count == 0)
            {
                await Task.Delay(50);
                continue;
            }
            // Every claimed iteration's outcome in one batch: the last one holds several iterations that complete the loop.
            var batch = new JsonObject
            {
                ["execution_id"] = executionId.ToString(),
                ["worker_id"] = "long-loop",
                ["events"] = new JsonArray([.. claims.SelectMany(IterationEvents)]),
            };
            Assert.Equal(HttpStatusCode.Accepted, (await http.Post("/api/events/batch", batch)).Status);
            if (finished == 0) // a worker's retry of the first batch: de-duplicated, it changes no result
                Assert.Equal(HttpStatusCode.Accepted, (await http.Post("/api/events/batch", batch)).Status);
            finished += claims.Count;
            if (!deactivated && finished >= Iterations / 2)
            {
                // Half the iterations are finished: the next activation rebuilds the loop from the log and forgets their data.
                var active = await ExecutionActivationsAsync(silo);
                Assert.Equal(HttpStatusCode.OK, (await silo.Post("/diagnostics/deactivate", new { execution_ids = new[] { executionId } })).Status);
                await Eventually.WaitForAsync(async () => await ExecutionActivationsAsync(silo) == active - 1, "the execution deactivated");
                deactivated = true;
            }
        }

        Assert.True(deactivated);
        var input = report["context"]!["input"]!;
        var results = input["results"]!.AsArray();
        Assert.Equal(Iterations, results.Count);
        Assert.All(results, (result, index) => Assert.Equal($$"""{"i":{{index}},"square":{{index * index}}}""", result!.ToJsonString()));
        Assert.Equal("""{"total":300,"success":300,"failed":0}""", input["stats"]!.ToJsonString());
    }

    /// <summary>A loop iteration's call.done (its data: the index and its square) and command.completed, as batch items.</summary>
    private static IEnumerable<JsonNode> IterationEvents(JsonNode claim)
    {
        var commandId = claim["meta"]!["command_id"]!.GetValue<long>();
        var index = claim["context"]!["input"]!["i"]!.GetValue<int>();
        var meta = new JsonObject { ["lease_token"] = claim["lease_token"]!.DeepClone() };
        var data = new JsonObject { ["i"] = index, ["square"] = index * index };
        yield return new JsonObject
        {
            ["step"] = "each",
            ["name"] = "call.done",
            ["actionable"] = true,
            ["payload"] = new JsonObject { ["command_id"] = commandId, ["result"] = new JsonObject { ["status"] = "COMPLETED", ["context"] = new JsonObject { ["data"] = data } } },
            ["meta"] = meta.DeepClone(),
        };
        yield return new JsonObject
        {
            ["step"] = "each",
            ["name"] = "command.completed",
            ["actionable"] = true,
            ["payload"] = new JsonObject { ["command_id"] = commandId, ["result"] = new JsonObject { ["status"] = "COMPLETED" } },
            ["meta"] = meta,
        };
    }

    private static async Task<int> ExecutionActivationsAsync(HttpClient silo)
    {
        var memory = await silo.Get("/diagnostics/memory");
        Assert.Equal(HttpStatusCode.OK, memory.Status);
        return memory.Json!["execution_activations"]!.GetValue<int>();
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
