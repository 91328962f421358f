using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>
/// What NoETL's workers and playbooks expect of the commands and results (issue #15, "Server"), over HTTP against the real
/// silo and gateway: one test per rule, each reading what a NoETL worker would read from its claim.
/// </summary>
public sealed partial class DslEndToEndTests
{
    /// <summary>1. render_context carries ctx, workload, job, event and the ids as text; ctx.n written by an arc reaches the next pipeline.</summary>
    [Fact]
    public async Task Commands_carry_NoETLs_render_context_namespaces()
    {
        var run = await RunAsync("""
            workload: {region: eu}
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  arcs:
                    - step: pipe
                      set: {ctx.n: 5}
              - step: pipe
                tool:
                  - name: first
                    kind: http
                    url: "https://example.test/{{ job.uuid }}/{{ ctx.n }}"
                    input: {n: "{{ ctx.n }}"}
            """, null, claim => Step(claim) == "start"
            ? new JsonObject { ["v"] = "x" }
            : new JsonObject { ["status"] = "success", ["results"] = new JsonObject(), ["_prev"] = new JsonObject(), ["ctx"] = new JsonObject() });

        Assert.Equal("COMPLETED", run.Status);
        var pipe = run.Claims.Single(c => Step(c) == "pipe");
        var executionId = pipe["execution_id"]!.GetValue<long>().ToString();
        var context = pipe["context"]!["render_context"]!;
        Assert.Equal(5, context["ctx"]!["n"]!.GetValue<int>());
        Assert.Equal(5, context["workload"]!["n"]!.GetValue<int>());
        Assert.Equal(5, context["n"]!.GetValue<int>());
        Assert.Equal("eu", context["ctx"]!["region"]!.GetValue<string>());
        Assert.Equal("x", context["ctx"]!["start"]!["v"]!.GetValue<string>());
        Assert.Equal(executionId, context["execution_id"]!.GetValue<string>());
        Assert.Equal(System.Text.Json.JsonValueKind.String, context["catalog_id"]!.GetValueKind());
        Assert.Equal(executionId, context["job"]!["uuid"]!.GetValue<string>());
        Assert.Equal(executionId, context["job"]!["id"]!.GetValue<string>());
        Assert.Equal("call.done", context["event"]!["name"]!.GetValue<string>());
        Assert.Equal("start", context["event"]!["step"]!.GetValue<string>());
        Assert.NotNull(context["event"]!["timestamp"]);
        Assert.Equal("x", context["output"]!["v"]!.GetValue<string>());
        var task = pipe["context"]!["tool_config"]!["tasks"]![0]!;
        Assert.Equal($"https://example.test/{executionId}/5", task["url"]!.GetValue<string>());
        Assert.Equal("{{ ctx.n }}", task["input"]!["n"]!.GetValue<string>()); // the worker renders it against render_context.ctx
    }

    /// <summary>2. A task sequence's {status, _prev, results, ctx}: ctx becomes variables before set and arcs; the last task's fields are the step's.</summary>
    [Fact]
    public async Task A_task_sequence_result_writes_its_ctx_and_promotes_the_last_task()
    {
        var run = await RunAsync("""
            workflow:
              - step: start
                tool:
                  - {name: fetch, kind: http, url: "https://example.test/a"}
                  - {name: shape, kind: noop}
                set: {ctx.total: "{{ ctx.count }}"}
                next:
                  arcs:
                    - step: big
                      when: "{{ start.rows > 1 }}"
                    - step: small
              - step: big
                tool: {kind: noop}
                input: {rows: "{{ start.rows }}", count: "{{ count }}", total: "{{ ctx.total }}", status: "{{ start.status }}", fetched: "{{ start.results.fetch.id }}"}
              - step: small
                tool: {kind: noop}
            """, null, claim => Step(claim) == "start"
            ? (JsonObject)JsonNode.Parse("""{"status": "success", "_prev": {"rows": 2}, "results": {"fetch": {"id": 9}, "shape": {"rows": 2}}, "ctx": {"count": "3"}}""")!
            : []);

        Assert.Equal("COMPLETED", run.Status);
        Assert.Equal("""{"rows":2,"count":"3","total":"3","status":"success","fetched":9}""", Sorted(run.Input("big"), "rows", "count", "total", "status", "fetched"));
        Assert.Equal("3", run.Final["variables"]!["count"]!.GetValue<string>());
        Assert.Equal(1, run.Count("step.skipped", "small"));
    }

    /// <summary>3. A loop step's result is {results, stats} with a context copy, and loop.done carries it as result.</summary>
    [Fact]
    public async Task A_loop_steps_result_is_results_and_stats_and_loop_done_carries_it()
    {
        var run = await RunAsync("""
            workflow:
              - step: each
                loop: {in: [a, b, c], iterator: x, spec: {mode: parallel}}
                tool: {kind: noop}
                next:
                  arcs:
                    - step: after
                      when: "{{ event.name == 'loop.done' and each.stats.success == 3 }}"
              - step: after
                tool: {kind: noop}
                input: {results: "{{ each.results }}", total: "{{ each.stats.total }}", failed: "{{ each.stats.failed }}", copy: "{{ each.context.stats.total }}"}
            """, null, claim => Step(claim) == "each"
            ? new JsonObject { ["data"] = claim["context"]!["input"]!["x"]!.GetValue<string>().ToUpperInvariant() }
            : []);

        Assert.Equal("COMPLETED", run.Status);
        var input = run.Input("after");
        Assert.Equal(["A", "B", "C"], input["results"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.Equal((3, 0, 3), (input["total"]!.GetValue<int>(), input["failed"]!.GetValue<int>(), input["copy"]!.GetValue<int>()));
        var loopDone = Assert.Single(run.Events, e => Type(e) == "loop.done")!;
        Assert.Equal("each", loopDone["node_name"]!.GetValue<string>());
        Assert.Equal(3, loopDone["context"]!["result"]!["stats"]!["success"]!.GetValue<int>());
        Assert.True(run.IndexOf("loop.done", "each") < run.IndexOf("command.issued", "after"));
    }

    /// <summary>4. Iterations see the iterator and loop_index as names, iter.* and loop.*; _index/_total are not merged into the input.</summary>
    [Fact]
    public async Task Iterations_carry_NoETLs_bindings_and_no_index_in_the_input()
    {
        var run = await RunAsync("""
            workflow:
              - step: each
                loop: {in: [a, b], iterator: item, spec: {mode: sequential}}
                tool: {kind: noop, label: "{{ item }}-{{ loop_index }}-{{ loop.length }}"}
            """, null, _ => []);

        Assert.Equal("COMPLETED", run.Status);
        var second = run.Claims.Single(c => c["meta"]!["iteration_index"]!.GetValue<int>() == 1)["context"]!;
        Assert.Equal("""{"item":"b"}""", second["input"]!.ToJsonString());
        Assert.Equal("b-1-2", second["tool_config"]!["label"]!.GetValue<string>());
        var context = second["render_context"]!;
        Assert.Equal("b", context["item"]!.GetValue<string>());
        Assert.Equal(1, context["loop_index"]!.GetValue<int>());
        Assert.Equal(
            (1, false, true, "b"),
            (context["iter"]!["_index"]!.GetValue<int>(), context["iter"]!["_first"]!.GetValue<bool>(), context["iter"]!["_last"]!.GetValue<bool>(),
             context["iter"]!["item"]!.GetValue<string>()));
        Assert.NotNull(context["iter"]!["loop_event_id"]);
        Assert.Equal("""{"index":1,"first":false,"length":2,"done":false}""", context["loop"]!.ToJsonString());
    }

    /// <summary>5. The entry step is executor.spec.entry_step, else the first step; a workflow without start registers and runs.</summary>
    [Theory]
    [InlineData("", "load")]
    [InlineData("executor: {spec: {entry_step: report}}", "report")]
    public async Task The_entry_step_is_the_named_one_or_the_first(string executor, string first)
    {
        var run = await RunAsync($$"""
            {{executor}}
            workflow:
              - step: load
                tool: {kind: noop}
                next: report
              - step: report
                tool: {kind: noop}
            """, null, _ => []);

        Assert.Equal("COMPLETED", run.Status);
        Assert.Equal(first, run.ClaimedSteps[0]);
    }

    /// <summary>6. A single tool with policy rules is issued as a one-task task_sequence named &lt;step&gt;:task_sequence.</summary>
    [Fact]
    public async Task A_single_tool_with_policy_rules_is_issued_as_a_task_sequence()
    {
        var run = await RunAsync("""
            workflow:
              - step: fetch
                tool:
                  kind: http
                  url: "https://example.test/x"
                  spec:
                    policy:
                      rules:
                        - when: "{{ output.http.status == 503 }}"
                          then: {do: retry, attempts: 3}
                next: after
              - step: after
                tool: {kind: noop}
                input: {body: "{{ fetch.body }}", status: "{{ fetch.status }}"}
            """, null, claim => Step(claim) == "fetch:task_sequence"
            ? (JsonObject)JsonNode.Parse("""{"status": "success", "_prev": {"body": "ok"}, "results": {"fetch_task": {"body": "ok"}}, "ctx": {}}""")!
            : []);

        Assert.Equal("COMPLETED", run.Status);
        var claim = run.Claims[0];
        Assert.Equal("fetch:task_sequence", Step(claim));
        Assert.Equal("task_sequence", claim["action"]!.GetValue<string>());
        var task = Assert.Single(claim["context"]!["tool_config"]!["tasks"]!.AsArray())!;
        Assert.Equal(("fetch_task", "http", "https://example.test/x"), (task["name"]!.GetValue<string>(), task["kind"]!.GetValue<string>(), task["url"]!.GetValue<string>()));
        Assert.Equal("{{ output.http.status == 503 }}", task["spec"]!["policy"]!["rules"]![0]!["when"]!.GetValue<string>());
        Assert.Equal("ok", run.Input("after")["body"]!.GetValue<string>());
        Assert.Equal("success", run.Input("after")["status"]!.GetValue<string>());
    }

    /// <summary>
    /// 7. A 900 KiB inline result (under the body limit) is refused with 413 pointing at the result store, so it never reaches a
    /// turn; stored with PUT /api/result and sent as a result_ref, it resolves to the stored rows and the execution completes.
    /// </summary>
    [Fact]
    public async Task A_large_result_goes_through_the_result_store_and_resolves_for_templates()
    {
        var path = await RegisterAsync("""
            workflow:
              - step: query
                tool: {kind: postgres, command: "select 1"}
                next: after
              - step: after
                tool: {kind: noop}
                input: {count: "{{ query.rows | length }}", has_ref: "{{ query._ref is defined }}", last: "{{ query.data.rows[-1] }}"}
                next: again
              - step: again
                tool: {kind: noop}
                input: {count: "{{ query.rows | length }}"}
            """);
        var executionId = await Http.Execute(path);
        var worker = new SimulatedWorker(Http, $"worker-dsl-{Guid.NewGuid():N}");
        var claim = await ClaimNextAsync(worker, executionId, "query");
        var commandId = claim["meta"]!["command_id"]!.GetValue<long>();
        var meta = new JsonObject { ["lease_token"] = claim["lease_token"]?.DeepClone() };
        var rows = new JsonArray([.. Enumerable.Range(0, 9000).Select(i => (JsonNode)$"row-{i:D5}-{new string('x', 90)}")]);
        var data = new JsonObject { ["rows"] = rows };
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(data.ToJsonString()) > 900 * 1024);

        var inline = await Http.Event(executionId, "query", "call.done", new JsonObject
        {
            ["command_id"] = commandId,
            ["result"] = new JsonObject { ["status"] = "COMPLETED", ["context"] = data.DeepClone() },
        }, "worker-dsl-fail", meta);
        Assert.True(inline.Status == HttpStatusCode.RequestEntityTooLarge, $"{(int)inline.Status} {inline.Text[..Math.Min(300, inline.Text.Length)]}");
        Assert.Contains("PUT /api/result/{execution_id}", inline.Json["detail"]!.GetValue<string>());
        Assert.DoesNotContain(await Http.Events(executionId), e => Type(e) == "call.done");

        var stored = await Http.Send(HttpMethod.Put, $"/api/result/{executionId}", new JsonObject { ["name"] = "query", ["data"] = data, ["source_step"] = "query" });
        Assert.True(stored.Status == HttpStatusCode.OK, stored.Text);
        var reference = new JsonObject
        {
            ["kind"] = "result_ref",
            ["ref"] = stored.Json["ref"]!.DeepClone(),
            ["store"] = stored.Json["store"]!.DeepClone(),
            ["scope"] = stored.Json["scope"]!.DeepClone(),
            ["meta"] = new JsonObject { ["bytes"] = stored.Json["bytes"]!.DeepClone() },
        };
        foreach (var (name, result) in new[]
        {
            ("call.done", new JsonObject { ["status"] = "COMPLETED", ["reference"] = reference }),
            ("command.completed", new JsonObject { ["status"] = "COMPLETED" }),
        })
        {
            var posted = await Http.Event(executionId, "query", name, new JsonObject { ["command_id"] = commandId, ["result"] = result }, "worker-dsl-fail", meta);
            Assert.True(posted.Status == HttpStatusCode.OK, $"{name}: {(int)posted.Status} {posted.Text}");
        }

        // Within the poll deadline: the resolved rows ride every later command, and turns stay cheap enough.
        var status = await worker.RunToCompletionAsync(executionId, _ => [], TimeSpan.FromSeconds(60));
        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
        var run = new Run(status, await Http.Events(executionId), worker.Claims);
        Assert.Equal(9000, run.Input("after")["count"]!.GetValue<int>());
        Assert.True(run.Input("after")["has_ref"]!.GetValue<bool>());
        Assert.StartsWith("row-08999-", run.Input("after")["last"]!.GetValue<string>());
        Assert.Equal(9000, run.Input("again")["count"]!.GetValue<int>());
    }

    /// <summary>8. A lone name or dotted path keeps the value: "02134" and the execution id stay text.</summary>
    [Fact]
    public async Task A_lone_path_keeps_text_as_text()
    {
        var run = await RunAsync("""
            workflow:
              - step: start
                tool: {kind: noop}
                next: after
              - step: after
                tool: {kind: noop}
                input: {zip: "{{ start.zip }}", flag: "{{ start.flag }}", id: "{{ execution_id }}"}
            """, null, claim => Step(claim) == "start" ? new JsonObject { ["zip"] = "02134", ["flag"] = "true" } : []);

        Assert.Equal("COMPLETED", run.Status);
        var input = run.Input("after");
        Assert.Equal("02134", input["zip"]!.GetValue<string>());
        Assert.Equal("true", input["flag"]!.GetValue<string>());
        Assert.Equal(run.Claims[0]["execution_id"]!.GetValue<long>().ToString(), input["id"]!.GetValue<string>());
    }

    /// <summary>The named keys of <paramref name="node"/> in the given order (jsonb storage does not keep key order).</summary>
    private static string Sorted(JsonNode node, params string[] keys) =>
        new JsonObject(keys.Select(k => KeyValuePair.Create(k, node[k]?.DeepClone()))).ToJsonString();
}
