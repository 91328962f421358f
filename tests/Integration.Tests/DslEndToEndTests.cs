using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>
/// Playbooks that use the DSL's routing, loop, set and failure features, run over HTTP against the real silo and gateway with
/// the test acting as the worker. The tool results the test returns drive the routing; the assertions read the event log.
/// </summary>
[Collection(SystemCollection.Name)]
public sealed partial class DslEndToEndTests(SystemFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Exclusive_branch_on_a_tool_result_skips_the_sibling_and_enters_the_merge_once()
    {
        var run = await RunAsync("""
            workflow:
              - step: start
                tool: {kind: http, url: "https://example.test/orders"}
                next:
                  spec: {mode: exclusive}
                  arcs:
                    - step: accept
                      when: "{{ output.status == 200 }}"
                    - step: reject
              - step: accept
                tool: {kind: noop}
                next: merge
              - step: reject
                tool: {kind: noop}
                next: merge
              - step: merge
                tool: {kind: noop}
                input:
                  via: "{{ accept.tag or reject.tag }}"
            """, null, claim => Step(claim) switch
        {
            "start" => new JsonObject { ["status"] = 404 },
            var step => new JsonObject { ["tag"] = step },
        });

        Assert.Equal("COMPLETED", run.Status);
        Assert.Equal(["start", "reject", "merge"], run.ClaimedSteps);
        Assert.Equal(1, run.Count("command.issued", "merge"));
        Assert.Equal(1, run.Count("step.skipped", "accept"));
        Assert.Equal(0, run.Count("command.issued", "accept"));
        Assert.Equal("reject", run.Input("merge")["via"]!.GetValue<string>());
    }

    [Fact]
    public async Task Exclusive_branch_inside_a_loop_takes_one_side_per_round_and_stops()
    {
        var run = await RunAsync("""
            workflow:
              - step: start
                tool: {kind: noop}
                set: {ctx.i: 0}
                next: fork
              - step: fork
                tool: {kind: noop}
                next:
                  arcs:
                    - step: even
                      when: "{{ ctx.i % 2 == 0 }}"
                    - step: odd
              - step: even
                tool: {kind: noop}
                next: merge
              - step: odd
                tool: {kind: noop}
                next: merge
              - step: merge
                tool: {kind: noop}
                set: {ctx.i: "{{ ctx.i + 1 }}"}
                next:
                  arcs:
                    - step: fork
                      when: "{{ ctx.i < 3 }}"
            """, null, _ => []);

        Assert.Equal("COMPLETED", run.Status);
        Assert.Equal(["start", "fork", "even", "merge", "fork", "odd", "merge", "fork", "even", "merge"], run.ClaimedSteps);
        Assert.Equal(1, run.Count("step.skipped", "odd"));
    }

    [Fact]
    public async Task Inclusive_fan_out_reduces_once_after_both_branches()
    {
        var run = await RunAsync("""
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs:
                    - step: left
                    - step: right
                      when: "{{ workload.with_right }}"
              - step: left
                tool: {kind: noop}
                next: reduce
              - step: right
                tool: {kind: noop}
                next: reduce
              - step: reduce
                tool: {kind: noop}
                input:
                  sum: "{{ left.n + right.n }}"
            """, new { with_right = true }, claim => Step(claim) switch
        {
            "left" => new JsonObject { ["n"] = 2 },
            "right" => new JsonObject { ["n"] = 40 },
            _ => [],
        });

        Assert.Equal("COMPLETED", run.Status);
        Assert.Equal(1, run.Count("command.issued", "reduce"));
        Assert.Equal(42, run.Input("reduce")["sum"]!.GetValue<int>());
        // The reduce is issued only after both upstream results are in the log.
        var reduceIssued = run.IndexOf("command.issued", "reduce");
        Assert.True(run.IndexOf("call.done", "left") < reduceIssued && run.IndexOf("call.done", "right") < reduceIssued);
    }

    [Fact]
    public async Task Counter_loop_over_a_back_edge_advances_monotonically_and_terminates()
    {
        var run = await RunAsync("""
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  arcs:
                    - step: body
                      set: {ctx.i: 1}
              - step: body
                tool: {kind: noop}
                input: {i: "{{ ctx.i }}"}
                next: check
              - step: check
                tool: {kind: noop}
                next:
                  arcs:
                    - step: body
                      when: "{{ ctx.i < workload.limit }}"
                      set: {ctx.i: "{{ ctx.i + 1 }}"}
                    - step: end
              - step: end
                tool: {kind: noop}
                input: {final: "{{ ctx.i }}"}
            """, new { limit = 4 }, _ => []);

        Assert.Equal("COMPLETED", run.Status);
        var counters = run.Claims.Where(c => Step(c) == "body").Select(c => c["context"]!["input"]!["i"]!.GetValue<int>()).ToList();
        Assert.Equal([1, 2, 3, 4], counters);
        Assert.Equal(4, run.Input("end")["final"]!.GetValue<int>());
        var updates = run.Events.Where(e => Type(e) == "ctx.updated").Select(e => e!["context"]!["values"]!["i"]!.GetValue<int>()).ToList();
        Assert.Equal([1, 2, 3, 4], updates);
    }

    [Fact]
    public async Task Self_loop_polls_until_the_tool_reports_ready()
    {
        var polls = 0;
        var run = await RunAsync("""
            workflow:
              - step: start
                tool: {kind: http, url: "https://example.test/job"}
                next:
                  arcs:
                    - step: start
                      when: "{{ not output.ready }}"
                    - step: finish
              - step: finish
                tool: {kind: noop}
                input: {attempts: "{{ start.attempt }}"}
            """, null, claim => Step(claim) == "start" ? new JsonObject { ["ready"] = ++polls == 3, ["attempt"] = polls } : []);

        Assert.Equal("COMPLETED", run.Status);
        Assert.Equal(3, run.Count("command.issued", "start"));
        Assert.Equal(3, run.Input("finish")["attempts"]!.GetValue<int>());
    }

    [Fact]
    public async Task Sequential_loop_runs_one_iteration_at_a_time_and_collects_results_in_order()
    {
        var run = await RunAsync("""
            workload:
              cities: [Oslo, Lima, Pune, Kyiv]
            workflow:
              - step: start
                tool: {kind: noop}
                next: visit
              - step: visit
                loop:
                  in: "{{ workload.cities }}"
                  iterator: city
                  spec: {mode: sequential}
                tool: {kind: noop}
                next:
                  arcs:
                    - step: report
                      when: "{{ event.name == 'loop.done' }}"
              - step: report
                tool: {kind: noop}
                input: {visited: "{{ visit.results }}"}
            """, null, claim => Step(claim) == "visit"
            ? new JsonObject { ["data"] = claim["context"]!["input"]!["city"]!.GetValue<string>().ToUpperInvariant() }
            : []);

        Assert.Equal("COMPLETED", run.Status);
        Assert.Equal(1, run.MaxInFlight("visit"));
        Assert.Equal(["OSLO", "LIMA", "PUNE", "KYIV"], run.Input("report")["visited"]!.AsArray().Select(v => v!.GetValue<string>()));
        var indexes = run.Claims.Where(c => Step(c) == "visit").Select(c => c["meta"]!["iteration_index"]!.GetValue<int>());
        Assert.Equal([0, 1, 2, 3], indexes);
    }

    [Fact]
    public async Task Parallel_loop_with_max_in_flight_2_never_has_more_than_2_running()
    {
        var run = await RunAsync("""
            workflow:
              - step: start
                loop:
                  in: "{{ workload.ids }}"
                  iterator: id
                  spec: {mode: parallel, max_in_flight: 2}
                tool: {kind: http, url: "https://example.test/items/{{ id }}"}
                next: total
              - step: total
                tool: {kind: noop}
                input: {squares: "{{ start.results }}", count: "{{ start.stats.total }}"}
            """, new { ids = new[] { 1, 2, 3, 4, 5, 6 } }, claim => Step(claim) == "start"
            ? new JsonObject { ["data"] = (int)Math.Pow(claim["context"]!["input"]!["id"]!.GetValue<int>(), 2) }
            : []);

        Assert.Equal("COMPLETED", run.Status);
        Assert.Equal(2, run.MaxInFlight("start"));
        Assert.Equal(6, run.Count("command.issued", "start"));
        Assert.Equal([1, 4, 9, 16, 25, 36], run.Input("total")["squares"]!.AsArray().Select(v => v!.GetValue<int>()));
        Assert.Equal("https://example.test/items/3", run.Claims.First(c => Step(c) == "start" && c["meta"]!["iteration_index"]!.GetValue<int>() == 2)
            ["context"]!["tool_config"]!["url"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_failing_step_fails_the_execution_only_after_its_running_sibling_finishes()
    {
        var path = await RegisterAsync("""
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: doomed}, {step: sibling}]
              - step: doomed
                tool: {kind: noop}
                next: join
              - step: sibling
                tool: {kind: noop}
                next: join
              - step: join
                tool: {kind: noop}
            """);
        var executionId = await Http.Execute(path);
        var worker = new SimulatedWorker(Http, "worker-dsl-fail");
        await worker.CompleteAsync(await ClaimNextAsync(worker, executionId, "start"), []);
        var doomed = await ClaimNextAsync(worker, executionId, "doomed");
        var sibling = await ClaimNextAsync(worker, executionId, "sibling");

        await FailAsync(doomed, "disk full");
        var whileSiblingRuns = await Http.Status(executionId);
        Assert.False(whileSiblingRuns["completed"]!.GetValue<bool>());

        await worker.CompleteAsync(sibling, []);
        var status = await WaitTerminalAsync(executionId);
        Assert.Equal("FAILED", status["status"]!.GetValue<string>());
        Assert.Equal("Failed steps: doomed", status["error"]!.GetValue<string>());
        var run = new Run(status, await Http.Events(executionId), []);
        Assert.Equal(0, run.Count("command.issued", "join"));
        Assert.True(run.IndexOf("call.done", "sibling") < run.IndexOf("playbook.failed", null));
    }

    [Fact]
    public async Task A_render_error_fails_the_execution_with_the_message()
    {
        var run = await RunAsync("""
            workflow:
              - step: start
                tool: {kind: noop}
                next: divide
              - step: divide
                tool: {kind: noop}
                input: {ratio: "{{ start.total // start.count }}"}
            """, null, _ => new JsonObject { ["total"] = 10, ["count"] = 0 });

        Assert.Equal("FAILED", run.Status);
        const string Message = "step 'divide': template error: division by zero (at position 15 in template '{{ start.total // start.count }}')";
        Assert.Equal(Message, run.Final["error"]!.GetValue<string>());
        Assert.Equal(Message, run.Events.Single(e => Type(e) == "playbook.failed")!["error"]!.GetValue<string>());
        Assert.Equal(0, run.Count("command.issued", "divide"));
    }

    [Fact]
    public async Task Step_level_set_writes_ctx_once_per_completion_and_later_steps_read_it()
    {
        var run = await RunAsync("""
            workload: {region: us}
            workflow:
              - step: start
                tool: {kind: http, url: "https://example.test/login"}
                set:
                  ctx.token: "{{ output.token }}"
                  ctx.region: eu
                next: call
              - step: call
                tool:
                  kind: http
                  url: "https://example.test/{{ ctx.region }}/orders"
                  headers: {Authorization: "Bearer {{ ctx.token }}"}
                input: {original_region: "{{ workload.region }}"}
            """, null, claim => Step(claim) == "start" ? new JsonObject { ["token"] = "t-123" } : []);

        Assert.Equal("COMPLETED", run.Status);
        var update = Assert.Single(run.Events, e => Type(e) == "ctx.updated");
        Assert.Equal("""{"token":"t-123","region":"eu"}""", update!["context"]!["values"]!.ToJsonString());
        var call = run.Claims.Single(c => Step(c) == "call")["context"]!;
        Assert.Equal("https://example.test/eu/orders", call["tool_config"]!["url"]!.GetValue<string>());
        Assert.Equal("Bearer t-123", call["tool_config"]!["headers"]!["Authorization"]!.GetValue<string>());
        // NoETL's workload namespace is the execution-variable map, so it sees the set too.
        Assert.Equal("eu", call["input"]!["original_region"]!.GetValue<string>());
        Assert.Equal("t-123", run.Final["variables"]!["token"]!.GetValue<string>());
    }

    [Fact]
    public async Task Workbook_task_reference_becomes_the_command_tool_with_merged_input()
    {
        var run = await RunAsync("""
            workbook:
              - name: fetch_user
                tool:
                  kind: http
                  url: "https://example.test/users/{{ workload.user }}"
                  input: {fields: all, limit: 1}
            workflow:
              - step: start
                tool: {kind: workbook, name: fetch_user, input: {limit: 5}}
            """, new { user = "u-7" }, _ => []);

        Assert.Equal("COMPLETED", run.Status);
        var claim = Assert.Single(run.Claims);
        Assert.Equal("http", claim["action"]!.GetValue<string>());
        var tool = claim["context"]!["tool_config"]!;
        Assert.Equal("https://example.test/users/u-7", tool["url"]!.GetValue<string>());
        // The reference's input wins over the task's, key by key (jsonb storage does not keep key order).
        Assert.Equal("all", tool["input"]!["fields"]!.GetValue<string>());
        Assert.Equal(5, tool["input"]!["limit"]!.GetValue<int>());
    }

    [Fact]
    public async Task Sub_playbook_tool_command_passes_through_and_its_result_routes_the_parent()
    {
        var run = await RunAsync("""
            workflow:
              - step: start
                tool:
                  kind: playbook
                  path: lib/child
                  payload: {order: "{{ workload.order }}"}
                  return_step: finish
                next:
                  arcs:
                    - step: shipped
                      when: "{{ output.status == 'COMPLETED' }}"
                    - step: investigate
              - step: shipped
                tool: {kind: noop}
                input: {child: "{{ start.execution_id }}"}
              - step: investigate
                tool: {kind: noop}
            """, new { order = 17 }, claim => Step(claim) == "start"
            ? new JsonObject { ["status"] = "COMPLETED", ["execution_id"] = "555" }
            : []);

        Assert.Equal("COMPLETED", run.Status);
        var call = run.Claims.Single(c => Step(c) == "start");
        Assert.Equal("playbook", call["action"]!.GetValue<string>());
        Assert.Equal("lib/child", call["context"]!["tool_config"]!["path"]!.GetValue<string>());
        Assert.Equal(17, call["context"]!["tool_config"]!["payload"]!["order"]!.GetValue<int>());
        Assert.Equal("555", run.Input("shipped")["child"]!.GetValue<string>()); // a lone path keeps the text
        Assert.Equal(1, run.Count("step.skipped", "investigate"));
    }

    [Fact]
    public async Task Empty_loop_enters_and_exits_without_commands_and_routes_on()
    {
        var run = await RunAsync("""
            workflow:
              - step: start
                tool: {kind: noop}
                next: each
              - step: each
                loop: {in: "{{ workload.rows }}", iterator: row}
                tool: {kind: noop}
                next: after
              - step: after
                tool: {kind: noop}
                input: {count: "{{ each.results | length }}"}
            """, new { rows = Array.Empty<int>() }, _ => []);

        Assert.Equal("COMPLETED", run.Status);
        Assert.Equal(0, run.Count("command.issued", "each"));
        Assert.Equal(1, run.Count("step.enter", "each"));
        Assert.Equal(1, run.Count("step.exit", "each"));
        Assert.Equal(0, run.Input("after")["count"]!.GetValue<int>());
    }

    // ---- helpers ----------------------------------------------------------------------------------

    private sealed record Run(JsonNode Final, JsonArray Events, List<JsonNode> Claims)
    {
        public string Status => Final["status"]!.GetValue<string>();

        public List<string> ClaimedSteps => Claims.Select(Step).ToList();

        public int Count(string eventType, string step) => Events.Count(e => Type(e) == eventType && e!["node_name"]?.GetValue<string>() == step);

        public int IndexOf(string eventType, string? step) =>
            Events.Select((e, i) => (e, i)).First(p => Type(p.e) == eventType && (step is null || p.e!["node_name"]?.GetValue<string>() == step)).i;

        /// <summary>The rendered input of the (last) command of <paramref name="step"/>, as the worker received it.</summary>
        public JsonNode Input(string step) => Claims.Last(c => Step(c) == step)["context"]!["input"]!;

        /// <summary>
        /// The most tool calls of <paramref name="step"/> running at once over every prefix of the log: issued and without a result yet.
        /// A call ends with its first terminal worker event; the engine, like Python's, dispatches the next iteration on <c>call.done</c>,
        /// so the next <c>command.issued</c> may precede the finished call's <c>command.completed</c> acknowledgement.
        /// </summary>
        public int MaxInFlight(string step)
        {
            var issued = new HashSet<long>();
            var max = 0;
            foreach (var e in Events)
            {
                if (e!["meta"]?["command_id"] is not { } id)
                    continue;
                var commandId = id.Id();
                if (Type(e) == "command.issued" && e["node_name"]!.GetValue<string>() == step)
                    issued.Add(commandId);
                else if (Type(e) is "call.done" or "call.error" or "command.completed" or "command.failed")
                    issued.Remove(commandId);
                max = Math.Max(max, issued.Count);
            }
            return max;
        }
    }

    private static string Step(JsonNode claim) => claim["node_name"]!.GetValue<string>();

    private static string Type(JsonNode? e) => e!["event_type"]!.GetValue<string>();

    private async Task<string> RegisterAsync(string workflow)
    {
        var path = $"tests/dsl_{Guid.NewGuid():N}";
        await Http.Register($"""
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata:
              name: dsl_e2e
              path: {path}
            {workflow}
            """);
        return path;
    }

    /// <summary>Registers and runs a playbook to a terminal status with the test as the worker.</summary>
    private async Task<Run> RunAsync(string workflow, object? workload, Func<JsonNode, JsonObject> tool)
    {
        var path = await RegisterAsync(workflow);
        var executionId = await Http.Execute(path, workload);
        var worker = new SimulatedWorker(Http, $"worker-dsl-{Guid.NewGuid():N}");
        var status = await worker.RunToCompletionAsync(executionId, tool);
        return new Run(status, await Http.Events(executionId), worker.Claims);
    }

    /// <summary>Claims the first pending command of <paramref name="step"/>, waiting for it to be issued.</summary>
    private async Task<JsonNode> ClaimNextAsync(SimulatedWorker worker, long executionId, string step)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var events = await Http.Events(executionId);
            var stepEvents = events.Where(e => e!["node_name"]?.GetValue<string>() == step).Select(e => e!["event_id"].Id()).ToHashSet();
            foreach (var eventId in (await worker.PendingCommandEventsAsync(executionId)).Where(stepEvents.Contains))
            {
                var claim = await Http.Claim(eventId, "worker-dsl-fail");
                Assert.True(claim.Status == HttpStatusCode.OK, $"claim {eventId}: {(int)claim.Status} {claim.Text}");
                return claim.Json;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"no command for step {step} in execution {executionId}");
    }

    /// <summary>Posts the events of a failed run of the claimed command: started, call.error, command.failed.</summary>
    private async Task FailAsync(JsonNode claim, string error)
    {
        var executionId = claim["execution_id"]!.GetValue<long>();
        var step = Step(claim);
        var commandId = claim["meta"]!["command_id"]!.GetValue<long>();
        foreach (var (name, payload) in new[]
        {
            ("command.started", new JsonObject { ["command_id"] = commandId }),
            ("call.error", new JsonObject { ["command_id"] = commandId, ["error"] = error }),
            ("command.failed", new JsonObject { ["command_id"] = commandId, ["error"] = error }),
        })
        {
            var response = await Http.Event(executionId, step, name, payload, "worker-dsl-fail");
            Assert.True(response.Status == HttpStatusCode.OK, $"{name} rejected: {(int)response.Status} {response.Text}");
        }
    }

    private async Task<JsonNode> WaitTerminalAsync(long executionId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var status = await Http.Status(executionId);
            if (status["completed"]!.GetValue<bool>())
                return status;
            await Task.Delay(50);
        }
        throw new TimeoutException($"execution {executionId} did not finish");
    }
}
