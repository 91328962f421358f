using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Tests.Engine;

/// <summary>
/// The detailed engine cases: every command line also shows the rendered input and tool config, so a case pins the exact
/// emitted events, commands and completion. Families are generated over workloads, tool results and completion orders where
/// the expected log follows from the spec rule being exercised; each generator states that rule.
/// </summary>
public static partial class EngineCases
{
    private static readonly string[] Begin = ["playbook.initialized", "workflow.initialized"];
    private static readonly string[] Completed = ["workflow.completed", "playbook.completed"];

    private static string[] Failed(string error) => [$"workflow.failed: {error}", $"playbook.failed: {error}"];

    private static EngineCase Case(string name, string workflow, Action<ExecutionDriver> script, IEnumerable<string> trace, bool? failed, JsonObject? payload = null) =>
        new(name, Header + workflow, script, [.. trace], failed) { Detailed = true, Payload = payload };

    private static JsonObject O(string json) => JsonNode.Parse(json)!.AsObject();

    public static IEnumerable<EngineCase> Catalog =>
        ExclusiveOnWorkload()
            .Concat(ExclusiveOnToolResult())
            .Concat(InclusiveFanOutIntoReduce())
            .Concat(CounterLoops())
            .Concat(SelfLoops())
            .Concat(SequentialLoops())
            .Concat(ParallelLoops())
            .Concat(Failures())
            .Concat(RenderErrors())
            .Concat(InputTemplates())
            .Concat(ConditionTruthiness())
            .Concat(ContextAndSets())
            .Concat(ToolCommands())
            .Concat(EndHandling())
            .Concat(LoopRouting())
            .Concat(Topologies())
            .Concat(LoopsInContext())
            .Concat(NoEtlShapes());

    // ---- exclusive routing ------------------------------------------------------------------------

    /// <summary>
    /// Exclusive mode takes the first arc whose <c>when</c> holds; every other arc's target is skipped; the three-upstream merge is
    /// entered exactly once, after the taken branch. The execute payload overlays the workload's <c>amount</c>.
    /// </summary>
    private static IEnumerable<EngineCase> ExclusiveOnWorkload()
    {
        const string Workflow = """
            workload:
              amount: 0
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: exclusive}
                  arcs:
                    - step: high
                      when: "{{ amount > 100 }}"
                    - step: mid
                      when: "{{ workload.amount > 10 }}"
                    - step: low
              - step: high
                tool: {kind: noop}
                next: merge
              - step: mid
                tool: {kind: noop}
                next: merge
              - step: low
                tool: {kind: noop}
                next: merge
              - step: merge
                tool: {kind: noop}
                input:
                  via: "{{ high.tag or mid.tag or low.tag }}"
            """;
        string[] branches = ["high", "mid", "low"];
        foreach (var amount in new[] { 500, 101, 100, 50, 11, 10, 0, -5 })
        {
            var taken = amount > 100 ? "high" : amount > 10 ? "mid" : "low";
            yield return Case($"exclusive on workload amount {amount} takes {taken}", Workflow,
                g =>
                {
                    g.Done("start");
                    g.Done(taken, J($$"""{"tag": "{{taken}}"}"""));
                    g.Done("merge");
                },
                [.. Begin, "issue:start", "done:start", .. branches.Where(b => b != taken).Select(b => $"step.skipped:{b}"), $"issue:{taken}",
                 $"done:{taken}", $$"""issue:merge input={"via":"{{taken}}"}""", "done:merge", .. Completed],
                false, O($$"""{"amount": {{amount}}}"""));
        }
    }

    /// <summary>The worker's tool result drives an exclusive choice: <c>output</c> is the completing step's unwrapped data.</summary>
    private static IEnumerable<EngineCase> ExclusiveOnToolResult()
    {
        const string Workflow = """
            workflow:
              - step: start
                tool: {kind: http, url: "https://example.test/orders", method: GET}
                next:
                  arcs:
                    - step: accept
                      when: "{{ output.status == 200 }}"
                    - step: retry_later
                      when: "{{ output.status in [500, 502, 503] }}"
                    - step: reject
              - step: accept
                tool: {kind: noop}
                input: {count: "{{ start.body | length }}"}
              - step: retry_later
                tool: {kind: noop}
                input: {code: "{{ output.status | default('none') }}", was: "{{ start.status }}"}
              - step: reject
                tool: {kind: noop}
                input: {reason: "HTTP {{ start.status }}"}
            """;
        var cases = new (int Status, string Taken, string Input)[]
        {
            (200, "accept", """{"count":2}"""),
            (201, "reject", """{"reason":"HTTP 201"}"""),
            (500, "retry_later", """{"code":500,"was":500}"""),
            (503, "retry_later", """{"code":503,"was":503}"""),
            (404, "reject", """{"reason":"HTTP 404"}"""),
        };
        string[] branches = ["accept", "retry_later", "reject"];
        foreach (var (status, taken, input) in cases)
        {
            yield return Case($"exclusive on tool result status {status} takes {taken}", Workflow,
                g =>
                {
                    g.Done("start", J($$"""{"status": {{status}}, "body": ["a", "b"]}"""));
                    g.Done(taken);
                },
                [.. Begin, """issue:start tool={"url":"https://example.test/orders","method":"GET"}""", "done:start",
                 .. branches.Where(b => b != taken).Select(b => $"step.skipped:{b}"), $"issue:{taken} input={input}", $"done:{taken}", .. Completed],
                false);
        }
    }

    // ---- inclusive routing and fan-in -------------------------------------------------------------

    /// <summary>
    /// Inclusive mode takes every arc whose <c>when</c> holds and skips the rest; <c>reduce</c> has three forward upstreams and is
    /// entered once, after the last taken branch finishes, whatever the completion order. With no branch taken nothing waits and
    /// the execution completes at once.
    /// </summary>
    private static IEnumerable<EngineCase> InclusiveFanOutIntoReduce()
    {
        const string Workflow = """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs:
                    - step: a
                      when: "{{ flags.a }}"
                    - step: b
                      when: "{{ flags.b }}"
                    - step: c
                      when: "{{ flags.c }}"
              - step: a
                tool: {kind: noop}
                next: reduce
              - step: b
                tool: {kind: noop}
                next: reduce
              - step: c
                tool: {kind: noop}
                next: reduce
              - step: reduce
                tool: {kind: noop}
                input:
                  total: "{{ a.v | default(0) + b.v | default(0) + c.v | default(0) }}"
            """;
        var values = new Dictionary<string, int> { ["a"] = 1, ["b"] = 10, ["c"] = 100 };
        for (var mask = 0; mask < 8; mask++)
        {
            var taken = values.Keys.Where((_, i) => (mask & (1 << i)) != 0).ToList();
            var flags = string.Join(", ", values.Keys.Select((k, i) => $"\"{k}\": {((mask & (1 << i)) != 0 ? "true" : "false")}"));
            var orders = taken.Count > 1 ? new[] { taken, Enumerable.Reverse(taken).ToList() } : [taken];
            foreach (var order in orders)
            {
                var total = taken.Sum(t => values[t]);
                var name = taken.Count == 0 ? "inclusive with no arc taken completes at once"
                    : $"inclusive takes {string.Join("+", taken)}, finishing {string.Join(",", order)}, reduces once";
                var tail = taken.Count == 0 ? [] : new[] { $$"""issue:reduce input={"total":{{total}}}""", "done:reduce" };
                yield return Case(name, Workflow,
                    g =>
                    {
                        g.Done("start");
                        foreach (var step in order)
                            g.Done(step, J($$"""{"v": {{values[step]}}}"""));
                        if (taken.Count > 0)
                            g.Done("reduce");
                    },
                    [.. Begin, "issue:start", "done:start", .. values.Keys.Except(taken).Select(s => $"step.skipped:{s}"),
                     .. taken.Select(s => $"issue:{s}"), .. order.Select(s => $"done:{s}"), .. tail, .. Completed],
                    false, O("{\"flags\": {" + flags + "}}"));
            }
        }
    }

    // ---- back-edge and self loops -----------------------------------------------------------------

    /// <summary>
    /// A counter over the back-edge check→body advances by one per round and stops at the limit. Variant one counts with a
    /// step-level <c>set:</c> (one <c>ctx.updated</c> per completion of body); variant two with an arc-level <c>set:</c> on the back-edge.
    /// </summary>
    private static IEnumerable<EngineCase> CounterLoops()
    {
        foreach (var limit in new[] { 1, 2, 3, 4, 5 })
        {
            var stepSet = $$$"""
                workflow:
                  - step: start
                    tool: {kind: noop}
                    set: {ctx.i: 0}
                    next: body
                  - step: body
                    tool: {kind: noop}
                    input: {i: "{{ ctx.i }}"}
                    set: {ctx.i: "{{ ctx.i + 1 }}"}
                    next: check
                  - step: check
                    tool: {kind: noop}
                    next:
                      arcs:
                        - step: body
                          when: "{{ ctx.i < {{{limit}}} }}"
                        - step: end
                  - step: end
                    tool: {kind: noop}
                    input: {final: "{{ ctx.i }}"}
                """;
            var trace = new List<string>(Begin) { "issue:start", "done:start", """ctx.updated:start {"i":0}""" };
            for (var i = 0; i < limit; i++)
                trace.AddRange([$$"""issue:body input={"i":{{i}}}""", "done:body", $$"""ctx.updated:body {"i":{{i + 1}}}""", "issue:check", "done:check"]);
            trace.AddRange([$$"""issue:end input={"final":{{limit}}}""", "done:end", .. Completed]);
            yield return Case($"counter loop with step set runs body {limit} times", stepSet,
                g =>
                {
                    g.Done("start");
                    for (var i = 0; i < limit; i++)
                    {
                        g.Done("body");
                        g.Done("check");
                    }
                    g.Done("end");
                },
                trace, false);

            var arcSet = $$$"""
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
                          when: "{{ ctx.i < {{{limit}}} }}"
                          set: {ctx.i: "{{ ctx.i + 1 }}"}
                        - step: end
                  - step: end
                    tool: {kind: noop}
                """;
            var arcTrace = new List<string>(Begin) { "issue:start", "done:start", """ctx.updated:start {"i":1}""" };
            for (var i = 1; i <= limit; i++)
            {
                arcTrace.AddRange([$$"""issue:body input={"i":{{i}}}""", "done:body", "issue:check", "done:check"]);
                if (i < limit)
                    arcTrace.Add($$"""ctx.updated:check {"i":{{i + 1}}}""");
            }
            arcTrace.AddRange(["issue:end", "done:end", .. Completed]);
            yield return Case($"counter loop with arc set on the back-edge runs body {limit} times", arcSet,
                g =>
                {
                    g.Done("start");
                    for (var i = 0; i < limit; i++)
                    {
                        g.Done("body");
                        g.Done("check");
                    }
                    g.Done("end");
                },
                arcTrace, false);
        }
    }

    /// <summary>A self-loop re-enters its own step: on a tool result (polling) or on a counter kept by its step-level set.</summary>
    private static IEnumerable<EngineCase> SelfLoops()
    {
        const string Poll = """
            workflow:
              - step: start
                tool: {kind: noop}
                next: poll
              - step: poll
                tool: {kind: http, url: "https://example.test/jobs/{{ workload.job }}"}
                next:
                  arcs:
                    - step: poll
                      when: "{{ output.state != 'done' }}"
                    - step: finish
              - step: finish
                tool: {kind: noop}
                input: {state: "{{ poll.state }}"}
            """;
        foreach (var attempts in new[] { 1, 2, 3, 4 })
        {
            var trace = new List<string>(Begin) { "issue:start", "done:start" };
            for (var i = 0; i < attempts; i++)
                trace.AddRange(["""issue:poll tool={"url":"https://example.test/jobs/j-9"}""", "done:poll"]);
            trace.AddRange(["""issue:finish input={"state":"done"}""", "done:finish", .. Completed]);
            yield return Case($"self-loop polls {attempts} times until done", Poll,
                g =>
                {
                    g.Done("start");
                    for (var i = 1; i < attempts; i++)
                        g.Done("poll", J("""{"state": "running"}"""));
                    g.Done("poll", J("""{"state": "done"}"""));
                    g.Done("finish");
                },
                trace, false, O("""{"job": "j-9"}"""));
        }

        foreach (var limit in new[] { 1, 2, 3 })
        {
            var workflow = $$$"""
                workflow:
                  - step: start
                    tool: {kind: noop}
                    input: {attempt: "{{ ctx.n | default(0) }}"}
                    set: {ctx.n: "{{ ctx.n | default(0) + 1 }}"}
                    next:
                      arcs:
                        - step: start
                          when: "{{ ctx.n < {{{limit}}} }}"
                """;
            var trace = new List<string>(Begin);
            for (var i = 0; i < limit; i++)
                trace.AddRange([$$"""issue:start input={"attempt":{{i}}}""", "done:start", $$"""ctx.updated:start {"n":{{i + 1}}}"""]);
            trace.AddRange(Completed);
            yield return Case($"self-loop on start counts to {limit} with its step set", workflow,
                g =>
                {
                    for (var i = 0; i < limit; i++)
                        g.Done("start");
                },
                trace, false);
        }
    }

    // ---- loops ------------------------------------------------------------------------------------

    /// <summary>
    /// A sequential loop issues one iteration at a time, each with the iterator merged into the step input, <c>loop_index</c>,
    /// <c>iter.*</c> and <c>loop.*</c> bound (NoETL does not merge <c>_index</c>/<c>_total</c> into the input); <c>loop.done</c>
    /// carries the step result, whose <c>results</c> are the per-iteration data in index order. The collection forms follow Rust
    /// <c>evaluate_loop</c>.
    /// </summary>
    private static IEnumerable<EngineCase> SequentialLoops()
    {
        var forms = new (string Name, string In, string Workload, string[] Items)[]
        {
            ("a list literal", "[red, green, blue]", "{}", ["\"red\"", "\"green\"", "\"blue\""]),
            ("a workload list", "\"{{ workload.colors }}\"", """{"colors": ["red", "green"]}""", ["\"red\"", "\"green\""]),
            ("a single-item list", "\"{{ colors }}\"", """{"colors": ["only"]}""", ["\"only\""]),
            ("a mapping as key/value pairs", "\"{{ {'x': 1, 'y': 2} }}\"", "{}", ["""{"key":"x","value":1}""", """{"key":"y","value":2}"""]),
            ("comma-separated text", "\"a, b,c\"", "{}", ["\"a\"", "\"b\"", "\"c\""]),
            ("newline-separated text", "\"{{ lines }}\"", """{"lines": "one\ntwo"}""", ["\"one\"", "\"two\""]),
            ("a JSON array in a string", "\"{{ raw }}\"", """{"raw": "[1, 2]"}""", ["1", "2"]),
            ("a count", "\"{{ 3 }}\"", "{}", ["0", "1", "2"]),
            ("a list of objects", "\"{{ rows }}\"", """{"rows": [{"id": 7}, {"id": 8}]}""", ["""{"id":7}""", """{"id":8}"""]),
        };
        foreach (var (name, source, workload, items) in forms)
        {
            var workflow = $$$"""
                workflow:
                  - step: start
                    tool: {kind: noop}
                    next: each
                  - step: each
                    loop:
                      in: {{{source}}}
                      iterator: item
                      spec: {mode: sequential}
                    tool: {kind: noop, label: "{{ iter._index + 1 }}/{{ loop.length }}"}
                    input: {pos: "{{ loop_index }}"}
                    next:
                      arcs:
                        - step: report
                          when: "{{ event.name == 'loop.done' }}"
                  - step: report
                    tool: {kind: noop}
                    input: {results: "{{ each.results }}"}
                """;
            var n = items.Length;
            var trace = new List<string>(Begin) { "issue:start", "done:start", $"step.enter:each({n})" };
            for (var i = 0; i < n; i++)
                trace.AddRange([$$"""issue:each[{{i}}] input={"pos":{{i}},"item":{{items[i]}}} tool={"label":"{{i + 1}}/{{n}}"}""", "done:each"]);
            trace.AddRange(["loop.done:each", $"issue:report input={{\"results\":[{string.Join(",", Enumerable.Range(0, n).Select(i => $"\"r{i}\""))}]}}", "done:report", .. Completed]);
            yield return Case($"sequential loop over {name} dispatches one at a time", workflow,
                g =>
                {
                    g.Done("start");
                    for (var i = 0; i < n; i++)
                        g.Done("each", J($"\"r{i}\""), iteration: i);
                    g.Done("report");
                },
                trace, false, O(workload));
        }

        foreach (var (name, source) in new[] { ("an empty list", "\"{{ [] }}\""), ("a zero count", "\"{{ 0 }}\""), ("an empty mapping", "\"{{ {} }}\"") })
        {
            yield return Case($"loop over {name} enters, exits and routes on", $$$"""
                workflow:
                  - step: start
                    tool: {kind: noop}
                    next: each
                  - step: each
                    loop: {in: {{{source}}}, iterator: x}
                    tool: {kind: noop}
                    next: after
                  - step: after
                    tool: {kind: noop}
                    input: {count: "{{ each.results | length }}", results: "{{ each.results }}"}
                """,
                g =>
                {
                    g.Done("start");
                    g.Done("after");
                },
                [.. Begin, "issue:start", "done:start", "step.enter:each(0)", "step.exit:each", "loop.done:each",
                 """issue:after input={"count":0,"results":[]}""",
                 "done:after", .. Completed],
                false);
        }

        foreach (var (name, source, kind) in new[] { ("a missing value", "\"{{ nothing }}\"", "null"), ("a boolean", "\"{{ false }}\"", "false") })
        {
            var error = $"loop step 'each': loop.in must evaluate to a collection, got {kind}";
            yield return Case($"loop over {name} fails the execution", $$$"""
                workflow:
                  - step: start
                    tool: {kind: noop}
                    next: each
                  - step: each
                    loop: {in: {{{source}}}, iterator: x}
                    tool: {kind: noop}
                """,
                g => g.Done("start"),
                [.. Begin, "issue:start", "done:start", .. Failed(error)],
                true);
        }
    }

    /// <summary>
    /// A parallel loop keeps at most <c>max_in_flight</c> iterations running (all of them without a budget) and issues the next one
    /// as each finishes; the loop result is in index order whatever the completion order. The expected log is derived from that rule.
    /// </summary>
    private static IEnumerable<EngineCase> ParallelLoops()
    {
        foreach (var total in new[] { 3, 5 })
        {
            foreach (var budget in new int?[] { 1, 2, 3, null })
            {
                foreach (var newestFirst in new[] { false, true })
                {
                    if (budget == 1 && newestFirst)
                        continue; // one in flight leaves no choice of order
                    var spec = budget is null ? "{mode: parallel}" : $"{{mode: parallel, max_in_flight: {budget}}}";
                    var workflow = $$$"""
                        workload:
                          total: {{{total}}}
                        workflow:
                          - step: start
                            loop:
                              in: "{{ total }}"
                              iterator: n
                              spec: {{{spec}}}
                            tool: {kind: noop, square: "{{ n * n }}"}
                            next: after
                          - step: after
                            tool: {kind: noop}
                            input: {squares: "{{ start.results }}"}
                        """;
                    var trace = new List<string>(Begin) { $"step.enter:start({total})" };
                    var limit = budget ?? total;
                    var issued = 0;
                    var open = new List<int>();
                    var order = new List<int>();
                    void Issue()
                    {
                        while (issued < total && open.Count < limit)
                        {
                            trace.Add($$"""issue:start[{{issued}}] input={"n":{{issued}}} tool={"square":{{issued * issued}}}""");
                            open.Add(issued++);
                        }
                    }
                    Issue();
                    while (open.Count > 0)
                    {
                        var next = newestFirst ? open.Max() : open.Min();
                        open.Remove(next);
                        order.Add(next);
                        trace.Add("done:start");
                        Issue();
                    }
                    var squares = string.Join(",", Enumerable.Range(0, total).Select(i => i * 10));
                    trace.AddRange(["loop.done:start", $$"""issue:after input={"squares":[{{squares}}]}""", "done:after", .. Completed]);
                    var budgetName = budget is null ? "no budget" : $"max_in_flight {budget}";
                    yield return Case($"parallel loop of {total} with {budgetName}, {(newestFirst ? "newest" : "oldest")} first", workflow,
                        g =>
                        {
                            while (g.OpenIterations("start") is { Count: > 0 } running)
                            {
                                var index = newestFirst ? running.Max() : running.Min();
                                g.Done("start", J($"{index * 10}"), iteration: index);
                            }
                            g.Done("after");
                        },
                        trace, false);
                }
            }
        }
    }

    // ---- failure ----------------------------------------------------------------------------------

    /// <summary>A failed command never routes; the execution fails once nothing runs any more, naming every failed step.</summary>
    private static IEnumerable<EngineCase> Failures()
    {
        const string Siblings = """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: a}, {step: b}]
              - step: a
                tool: {kind: noop}
                next: join
              - step: b
                tool: {kind: noop}
                next: b2
              - step: b2
                tool: {kind: noop}
                next: join
              - step: join
                tool: {kind: noop}
            """;
        string[] forked = [.. Begin, "issue:start", "done:start", "issue:a", "issue:b"];

        yield return Case("failure while a sibling runs waits for it, then fails", Siblings,
            g =>
            {
                g.Done("start");
                g.Error("a", "disk full");
                g.CommandFailed(g.CommandOf("a"), "disk full");
                g.Done("b");
            },
            [.. forked, "error:a", "failed:a", "done:b", .. Failed("Failed steps: a")], true);

        yield return Case("failure waits for a sibling's successor already running", Siblings,
            g =>
            {
                g.Done("start");
                g.Done("b");
                g.Error("a");
                g.Done("b2");
            },
            [.. forked, "done:b", "issue:b2", "error:a", "done:b2", .. Failed("Failed steps: a")], true);

        yield return Case("both siblings failing name both steps", Siblings,
            g =>
            {
                g.Done("start");
                g.Error("b");
                g.Error("a");
            },
            [.. forked, "error:b", "error:a", .. Failed("Failed steps: a, b")], true);

        yield return Case("failure after the sibling finished fails at once", Siblings,
            g =>
            {
                g.Done("start");
                g.Done("b");
                g.Done("b2");
                g.Error("a");
                g.CommandFailed(g.CommandOf("a"));
            },
            [.. forked, "done:b", "issue:b2", "done:b2", "error:a", .. Failed("Failed steps: a"), "failed:a"], true);

        yield return Case("command.failed with a structured error fails the step", Siblings,
            g =>
            {
                g.Done("start");
                g.Done("a");
                var id = g.CommandOf("b");
                g.Worker("command.failed", id, new JsonObject { ["command_id"] = id, ["error"] = new JsonObject { ["message"] = "timeout" } });
            },
            [.. forked, "done:a", "failed:b", .. Failed("Failed steps: b")], true);

        yield return Case("failure in the second round of a back-edge loop", """
            workflow:
              - step: start
                tool: {kind: noop}
                set: {ctx.i: 0}
                next: body
              - step: body
                tool: {kind: noop}
                set: {ctx.i: "{{ ctx.i + 1 }}"}
                next:
                  arcs:
                    - step: body
                      when: "{{ ctx.i < 5 }}"
            """,
            g =>
            {
                g.Done("start");
                g.Done("body");
                g.Error("body", "bad input");
            },
            [.. Begin, "issue:start", "done:start", """ctx.updated:start {"i":0}""", "issue:body", "done:body", """ctx.updated:body {"i":1}""",
             "issue:body", "error:body", .. Failed("Failed steps: body")], true);

        yield return Case("parallel iteration failure stops new iterations and drains the running ones", """
            workflow:
              - step: start
                loop:
                  in: [1, 2, 3, 4, 5]
                  iterator: x
                  spec: {mode: parallel, max_in_flight: 3}
                tool: {kind: noop}
                next: after
              - step: after
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start", iteration: 0);
                g.Error("start", "bad row", iteration: 2);
                g.Done("start", iteration: 1);
                g.Done("start", iteration: 3);
            },
            [.. Begin, "step.enter:start(5)", """issue:start[0] input={"x":1}""", """issue:start[1] input={"x":2}""",
             """issue:start[2] input={"x":3}""", "done:start", """issue:start[3] input={"x":4}""",
             "error:start", "done:start", "done:start", .. Failed("Failed steps: start")], true);

        yield return Case("a failed start fails the execution", """
            workflow:
              - step: start
                tool: {kind: noop}
                next: second
              - step: second
                tool: {kind: noop}
            """,
            g => g.Error("start", "no route to host"),
            [.. Begin, "issue:start", "error:start", .. Failed("Failed steps: start")], true);
    }

    /// <summary>
    /// A template that cannot be rendered fails the execution with a message naming the step; nothing else is emitted.
    /// Templates that do not parse (unknown filters and tests, syntax errors) are refused at registration (PlaybookParseTests).
    /// </summary>
    private static IEnumerable<EngineCase> RenderErrors()
    {
        var cases = new (string Name, string Second, string Error)[]
        {
            ("a division by zero in the input", """
                  - step: second
                    tool: {kind: noop}
                    input: {ratio: "{{ start.n // 0 }}"}
                """, "step 'second': template error: division by zero (at position 11 in template '{{ start.n // 0 }}')"),
            ("a loop collection that fails to render", """
                  - step: second
                    loop: {in: "{{ start.rows | fromjson }}", iterator: r}
                    tool: {kind: noop}
                """, "step 'second': template error: fromjson: invalid JSON: 'not json' is an invalid JSON literal. Expected the literal 'null'. LineNumber: 0 | BytePositionInLine: 1. (at position 16 in template '{{ start.rows | fromjson }}')"),
        };
        foreach (var (name, second, error) in cases)
        {
            yield return Case($"render error: {name}", """
                workflow:
                  - step: start
                    tool: {kind: noop}
                    next: second

                """ + second,
                g => g.Done("start", J("""{"host": "db", "n": 4, "rows": "not json"}""")),
                [.. Begin, "issue:start", "done:start", .. Failed(error)], true);
        }

        yield return Case("render error in an arc condition fails the execution", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  arcs:
                    - step: second
                      when: "{{ output.n / 0 > 1 }}"
              - step: second
                tool: {kind: noop}
            """,
            g => g.Done("start", J("""{"n": 1}""")),
            [.. Begin, "issue:start", "done:start", .. Failed("step 'start': template error: division by zero (at position 12 in template '{{ output.n / 0 > 1 }}')")], true);

        yield return Case("render error in a step set fails the execution", """
            workflow:
              - step: start
                tool: {kind: noop}
                set: {ctx.bad: "{{ output.n // output.zero }}"}
                next: second
              - step: second
                tool: {kind: noop}
            """,
            g => g.Done("start", J("""{"n": 1, "zero": 0}""")),
            [.. Begin, "issue:start", "done:start", .. Failed("step 'start': template error: division by zero (at position 12 in template '{{ output.n // output.zero }}')")], true);

        yield return Case("render error in the start step fails the first turn", """
            workflow:
              - step: start
                tool: {kind: noop}
                input: {x: "{{ 'a' - 1 }}"}
            """,
            _ => { },
            [.. Begin, .. Failed("step 'start': template error: unsupported operand types for -: string and int (at position 7 in template '{{ 'a' - 1 }}')")], true);
    }

    // ---- templates, conditions, context -----------------------------------------------------------

    /// <summary>
    /// Step inputs are rendered against the previous step's result and typed by the render_to_value rules
    /// (containers, booleans, integers, floats, null; anything else stays text), except that a lone name or dotted path is
    /// the value it names (text that looks like a number stays text).
    /// </summary>
    private static IEnumerable<EngineCase> InputTemplates()
    {
        var cases = new (string Template, string Rendered)[]
        {
            ("{{ start.n + 1 }}", "6"),
            ("{{ start.n / 2 }}", "2.5"),
            ("{{ start.name | upper }}", "\"ADA\""),
            ("id-{{ start.n }}", "\"id-5\""),
            ("{{ start.items }}", "[1,2]"),
            ("{{ start.items | length }}", "2"),
            ("{{ start.flag }}", "true"),
            ("{{ not start.flag }}", "false"),
            ("{{ start.missing }}", "null"),
            ("{{ start.missing | default('none given') }}", "\"none given\""),
            ("{{ start.nested }}", """{"k":"v"}"""),
            ("{{ start.nested | tojson }}", """{"k":"v"}"""),
            ("{{ start.padded }}", "\"007\""),
            ("{{ start.padded | string }}", "7"),
            ("{{ start.data.n }}", "5"),
            ("{{ start.items | join('-') }}", "\"1-2\""),
            ("{{ 'yes' if start.n > 3 else 'no' }}", "\"yes\""),
            ("{% if start.flag %}on{% else %}off{% endif %}", "\"on\""),
            ("{% for i in start.items %}{{ i * 10 }};{% endfor %}", "\"10;20;\""),
            ("plain text", "\"plain text\""),
        };
        foreach (var (template, rendered) in cases)
        {
            var quoted = template.Replace("'", "''", StringComparison.Ordinal);
            yield return Case($"input template '{template}' renders {rendered}", $$$"""
                workflow:
                  - step: start
                    tool: {kind: noop}
                    next: second
                  - step: second
                    tool: {kind: noop}
                    input:
                      value: '{{{quoted}}}'
                """,
                g =>
                {
                    g.Done("start", J("""{"n": 5, "name": "ada", "items": [1, 2], "flag": true, "nested": {"k": "v"}, "padded": "007"}"""));
                    g.Done("second");
                },
                [.. Begin, "issue:start", "done:start", $$"""issue:second input={"value":{{rendered}}}""", "done:second", .. Completed], false);
        }
    }

    /// <summary>
    /// An arc condition is rendered, trimmed and lower-cased; it is false iff the text is one of
    /// <c>"" false 0 no none null off {} []</c>. A condition without braces is wrapped in <c>{{ }}</c>.
    /// </summary>
    private static IEnumerable<EngineCase> ConditionTruthiness()
    {
        var cases = new (string Value, bool Taken)[]
        {
            ("\"\"", false), ("\"false\"", false), ("\"False\"", false), ("\" FALSE \"", false), ("\"0\"", false), ("\"no\"", false),
            ("\"None\"", false), ("\"null\"", false), ("\"off\"", false), ("\"{}\"", false), ("\"[]\"", false),
            ("false", false), ("0", false), ("null", false), ("[]", false), ("{}", false),
            ("\"yes\"", true), ("\"req-123\"", true), ("\"0.0\"", true), ("true", true), ("1", true), ("-1", true), ("[0]", true), ("""{"a": 1}""", true),
        };
        foreach (var (value, taken) in cases)
        {
            yield return Case($"condition on {value} is {(taken ? "true" : "false")}", """
                workflow:
                  - step: start
                    tool: {kind: noop}
                    next:
                      arcs:
                        - step: yes_branch
                          when: "{{ output.v }}"
                        - step: no_branch
                  - step: yes_branch
                    tool: {kind: noop}
                  - step: no_branch
                    tool: {kind: noop}
                """,
                g =>
                {
                    g.Done("start", J($$"""{"v": {{value}}}"""));
                    g.Done(taken ? "yes_branch" : "no_branch");
                },
                [.. Begin, "issue:start", "done:start", taken ? "step.skipped:no_branch" : "step.skipped:yes_branch",
                 taken ? "issue:yes_branch" : "issue:no_branch", taken ? "done:yes_branch" : "done:no_branch", .. Completed], false);
        }

        foreach (var (condition, taken) in new[] { ("output.v == 3", true), ("output.v > 3", false), ("output.v in [1, 2, 3] and not output.off", true) })
        {
            yield return Case($"condition without braces '{condition}' is {taken}", $$$"""
                workflow:
                  - step: start
                    tool: {kind: noop}
                    next:
                      arcs:
                        - step: yes_branch
                          when: "{{{condition}}}"
                        - step: no_branch
                  - step: yes_branch
                    tool: {kind: noop}
                  - step: no_branch
                    tool: {kind: noop}
                """,
                g =>
                {
                    g.Done("start", J("""{"v": 3}"""));
                    g.Done(taken ? "yes_branch" : "no_branch");
                },
                [.. Begin, "issue:start", "done:start", taken ? "step.skipped:no_branch" : "step.skipped:yes_branch",
                 taken ? "issue:yes_branch" : "issue:no_branch", taken ? "done:yes_branch" : "done:no_branch", .. Completed], false);
        }
    }

    /// <summary>Render-context layering (§2.5), set: scope stripping, once-per-completion step sets, arc sets and worker updates.</summary>
    private static IEnumerable<EngineCase> ContextAndSets()
    {
        yield return Case("payload deep-merges over the workload", """
            workload:
              db: {host: pg, port: 5432}
              region: us
            workflow:
              - step: start
                tool: {kind: noop}
                input: {db: "{{ db }}", port: "{{ workload.db.port }}", region: "{{ region }}"}
            """,
            g => g.Done("start"),
            [.. Begin, """issue:start input={"db":{"host":"pg","port":6543},"port":6543,"region":"eu"}""", "done:start", .. Completed], false,
            O("""{"db": {"port": 6543}, "region": "eu"}"""));

        yield return Case("ctx shadows a workload key of the same name, and workload.* is the same variable map", """
            workload: {region: us}
            workflow:
              - step: start
                tool: {kind: noop}
                set: {ctx.region: eu}
                next: second
              - step: second
                tool: {kind: noop}
                input: {flat: "{{ region }}", ctx: "{{ ctx.region }}", workload: "{{ workload.region }}"}
            """,
            g =>
            {
                g.Done("start");
                g.Done("second");
            },
            [.. Begin, "issue:start", "done:start", """ctx.updated:start {"region":"eu"}""", """issue:second input={"flat":"eu","ctx":"eu","workload":"eu"}""",
             "done:second", .. Completed], false);

        yield return Case("a step result shadows a workload key (in workload.* too) and exposes .data and steps.<name>", """
            workload: {start: from-workload}
            workflow:
              - step: start
                tool: {kind: noop}
                next: second
              - step: second
                tool: {kind: noop}
                input:
                  field: "{{ start.k }}"
                  alias: "{{ start.data.k }}"
                  envelope: "{{ steps.start.status }}"
                  raw: "{{ steps.start.context.data.k }}"
                  original: "{{ workload.start }}"
            """,
            g =>
            {
                g.Done("start", J("""{"k": 1}"""));
                g.Done("second");
            },
            [.. Begin, "issue:start", "done:start",
             """issue:second input={"field":1,"alias":1,"envelope":"COMPLETED","raw":1,"original":{"k":1,"data":{"k":1}}}""", "done:second", .. Completed], false);

        yield return Case("execution ids and path are in the context as text", """
            workflow:
              - step: start
                tool: {kind: noop}
                input: {id: "e-{{ execution_id }}", catalog: "{{ catalog_id }}", path: "{{ path }}", version: "{{ version }}"}
            """,
            g => g.Done("start"),
            [.. Begin, """issue:start input={"id":"e-42","catalog":"7","path":"tests/demo","version":1}""", "done:start", .. Completed], false);

        yield return Case("set strips ctx., iter. and step. and keeps other keys verbatim", """
            workflow:
              - step: start
                tool: {kind: noop}
                set:
                  ctx.a: 1
                  iter.b: two
                  step.c: "{{ output.c }}"
                  plain: "{{ [1, 2] }}"
                  other.key: "{{ output.c * 2 }}"
                next: second
              - step: second
                tool: {kind: noop}
                input: {a: "{{ a }}", b: "{{ ctx.b }}", c: "{{ c }}", plain: "{{ plain }}", other: "{{ ctx['other.key'] }}"}
            """,
            g =>
            {
                g.Done("start", J("""{"c": 3}"""));
                g.Done("second");
            },
            [.. Begin, "issue:start", "done:start", """ctx.updated:start {"a":1,"b":"two","c":3,"plain":[1,2],"other.key":6}""",
             """issue:second input={"a":1,"b":"two","c":3,"plain":[1,2],"other":6}""", "done:second", .. Completed], false);

        yield return Case("a later set overwrites an earlier value; sets see the ctx before them", """
            workflow:
              - step: start
                tool: {kind: noop}
                set: {ctx.total: 10}
                next: second
              - step: second
                tool: {kind: noop}
                set: {ctx.total: "{{ ctx.total + output.add }}", ctx.previous: "{{ ctx.total }}"}
                next: third
              - step: third
                tool: {kind: noop}
                input: {total: "{{ ctx.total }}", previous: "{{ ctx.previous }}"}
            """,
            g =>
            {
                g.Done("start");
                g.Done("second", J("""{"add": 5}"""));
                g.Done("third");
            },
            [.. Begin, "issue:start", "done:start", """ctx.updated:start {"total":10}""", "issue:second", "done:second",
             """ctx.updated:second {"total":15,"previous":15}""", """issue:third input={"total":15,"previous":15}""", "done:third", .. Completed], false);

        yield return Case("only the taken arc's set is applied", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  arcs:
                    - step: left
                      when: "{{ output.go == 'left' }}"
                      set: {ctx.side: L}
                    - step: right
                      set: {ctx.side: R}
              - step: left
                tool: {kind: noop}
                input: {side: "{{ ctx.side }}"}
              - step: right
                tool: {kind: noop}
                input: {side: "{{ ctx.side }}"}
            """,
            g =>
            {
                g.Done("start", J("""{"go": "right"}"""));
                g.Done("right");
            },
            [.. Begin, "issue:start", "done:start", "step.skipped:left", """ctx.updated:start {"side":"R"}""", """issue:right input={"side":"R"}""",
             "done:right", .. Completed], false);

        yield return Case("step set comes before the arc set, which sees its value", """
            workflow:
              - step: start
                tool: {kind: noop}
                set: {ctx.n: "{{ output.n }}"}
                next:
                  arcs:
                    - step: second
                      set: {ctx.doubled: "{{ ctx.n * 2 }}"}
              - step: second
                tool: {kind: noop}
                input: {n: "{{ ctx.n }}", doubled: "{{ ctx.doubled }}"}
            """,
            g =>
            {
                g.Done("start", J("""{"n": 4}"""));
                g.Done("second");
            },
            [.. Begin, "issue:start", "done:start", """ctx.updated:start {"n":4}""", """ctx.updated:start {"doubled":8}""",
             """issue:second input={"n":4,"doubled":8}""", "done:second", .. Completed], false);

        yield return Case("inclusive arcs each apply their own set", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs:
                    - step: a
                      set: {ctx.for_a: 1}
                    - step: b
                      set: {ctx.for_b: 2}
              - step: a
                tool: {kind: noop}
                input: {mine: "{{ ctx.for_a }}"}
              - step: b
                tool: {kind: noop}
                input: {mine: "{{ ctx.for_b }}", other: "{{ ctx.for_a }}"}
            """,
            g =>
            {
                g.Done("start");
                g.Done("a");
                g.Done("b");
            },
            [.. Begin, "issue:start", "done:start", """ctx.updated:start {"for_a":1}""", """issue:a input={"mine":1}""",
             """ctx.updated:start {"for_b":2}""", """issue:b input={"mine":2,"other":1}""", "done:a", "done:b", .. Completed], false);

        yield return Case("worker _context_updates overwrite an earlier set", """
            workflow:
              - step: start
                tool: {kind: noop}
                set: {ctx.token: old}
                next: refresh
              - step: refresh
                tool: {kind: http, url: "https://example.test/token"}
                next: use
              - step: use
                tool: {kind: http, url: "https://example.test/api", headers: {Authorization: "Bearer {{ ctx.token }}"}}
            """,
            g =>
            {
                g.Done("start");
                g.Done("refresh", J("""{"_context_updates": {"token": "new"}}"""));
                g.Done("use");
            },
            [.. Begin, "issue:start", "done:start", """ctx.updated:start {"token":"old"}""", """issue:refresh tool={"url":"https://example.test/token"}""",
             "done:refresh", """issue:use tool={"url":"https://example.test/api","headers":{"Authorization":"Bearer new"}}""", "done:use", .. Completed], false);

        yield return Case("keychain references are left for the worker", """
            workflow:
              - step: start
                tool: {kind: postgres, auth: "{{ keychain.pg_main }}", query: "select {{ workload.n }}"}
            """,
            g => g.Done("start"),
            [.. Begin, """issue:start tool={"auth":"{{ keychain.pg_main }}","query":"select 3"}""", "done:start", .. Completed], false,
            O("""{"n": 3}"""));
    }

    /// <summary>Tool blocks: workbook tasks resolved at parse time, sub-playbook calls passed through, pipelines as task_sequence.</summary>
    private static IEnumerable<EngineCase> ToolCommands()
    {
        yield return Case("a workbook task becomes the step's tool; the step's tool input wins", """
            workbook:
              - name: fetch_user
                tool:
                  kind: http
                  url: "https://example.test/users/{{ workload.user }}"
                  input: {fields: all, limit: 1}
            workflow:
              - step: start
                tool: {kind: workbook, name: fetch_user, input: {limit: 5}}
            """,
            g => g.Done("start"),
            [.. Begin, """issue:start tool={"url":"https://example.test/users/u1","input":{"fields":"all","limit":5}}""", "done:start", .. Completed], false,
            O("""{"user": "u1"}"""));

        yield return Case("step input is rendered into the command input next to the tool", """
            workflow:
              - step: start
                tool: {kind: python, code: "result = {'sum': a + b}", input: {a: "{{ workload.a }}"}}
                input: {b: "{{ workload.b }}", both: "{{ workload.a + workload.b }}"}
            """,
            g => g.Done("start"),
            [.. Begin, """issue:start input={"b":2,"both":3} tool={"code":"result = {'sum': a + b}","input":{"a":1}}""", "done:start", .. Completed], false,
            O("""{"a": 1, "b": 2}"""));

        yield return Case("a sub-playbook call is a playbook tool command with a rendered payload", """
            workflow:
              - step: start
                tool: {kind: noop}
                next: child
              - step: child
                tool:
                  kind: playbook
                  path: lib/child
                  payload: {order: "{{ start.order }}", tenant: "{{ workload.tenant }}"}
                  return_step: finish
                next: after
              - step: after
                tool: {kind: noop}
                input: {child_status: "{{ child.status }}"}
            """,
            g =>
            {
                g.Done("start", J("""{"order": 17}"""));
                g.Done("child", J("""{"status": "COMPLETED", "execution_id": "99"}"""));
                g.Done("after");
            },
            [.. Begin, "issue:start", "done:start", """issue:child tool={"path":"lib/child","payload":{"order":17,"tenant":"acme"},"return_step":"finish"}""",
             "done:child", """issue:after input={"child_status":"COMPLETED"}""", "done:after", .. Completed], false,
            O("""{"tenant": "acme"}"""));

        yield return Case("a fire-and-forget sub-playbook call completes on the worker's started result", """
            workflow:
              - step: start
                tool: {kind: playbook, path: lib/async_child}
                next:
                  arcs:
                    - step: track
                      when: "{{ output.async }}"
              - step: track
                tool: {kind: noop}
                input: {child: "{{ start.execution_id }}"}
            """,
            g =>
            {
                g.Done("start", J("""{"status": "started", "execution_id": "123", "async": true}"""));
                g.Done("track");
            },
            [.. Begin, """issue:start tool={"path":"lib/async_child"}""", "done:start", """issue:track input={"child":"123"}""", "done:track", .. Completed], false);

        yield return Case("a pipeline is one task_sequence command; task set/input are left for the worker", """
            workflow:
              - step: start
                tool:
                  - name: fetch
                    kind: http
                    url: "https://example.test/{{ workload.id }}"
                    input: {page: "{{ page }}"}
                  - name: store
                    kind: postgres
                    command: "insert {{ fetch.id }}"
                    set: {ctx.saved: "{{ output.rows }}"}
                next: after
              - step: after
                tool: {kind: noop}
                input: {id: "{{ start.results.fetch.id }}", workload_id: "{{ id }}", rows: "{{ start.rows }}"}
            """,
            g =>
            {
                g.Done("start", J("""{"status": "success", "_prev": {"rows": 1}, "results": {"fetch": {"id": 9}, "store": {"rows": 1}}, "ctx": {}}"""));
                g.Done("after");
            },
            [.. Begin,
             """issue:start tool={"tasks":[{"name":"fetch","kind":"http","url":"https://example.test/4","input":{"page":"{{ page }}"}},{"name":"store","kind":"postgres","command":"insert {{ fetch.id }}","set":{"ctx.saved":"{{ output.rows }}"}}]}""",
             "done:start", """issue:after input={"id":9,"workload_id":4,"rows":1}""", "done:after", .. Completed], false,
            O("""{"id": 4}"""));
    }

    /// <summary>End handling: a real <c>end</c> step runs like any other; completion waits for every running step.</summary>
    private static IEnumerable<EngineCase> EndHandling()
    {
        yield return Case("a real end step reached while a sibling runs waits for it", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: end}, {step: side}]
              - step: side
                tool: {kind: noop}
              - step: end
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("end");
                g.Done("side");
            },
            [.. Begin, "issue:start", "done:start", "issue:end", "issue:side", "done:end", "done:side", .. Completed], false);

        yield return Case("a terminal step completes only after the other branch finishes", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: quick}, {step: slow}]
              - step: quick
                tool: {kind: noop}
              - step: slow
                tool: {kind: noop}
                next: slower
              - step: slower
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("quick");
                g.Done("slow");
                g.Done("slower");
            },
            [.. Begin, "issue:start", "done:start", "issue:quick", "issue:slow", "done:quick", "done:slow", "issue:slower", "done:slower", .. Completed], false);

        yield return Case("the implicit end with a pending sibling completes after it", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs:
                    - step: end
                    - step: audit
                      when: "{{ output.audit }}"
              - step: audit
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start", J("""{"audit": true}"""));
                g.Done("audit");
            },
            [.. Begin, "issue:start", "done:start", "issue:audit", "done:audit", .. Completed], false);
    }

    /// <summary>Loop-step arcs see <c>event.name == 'loop.done'</c>; a plain step's arcs see <c>call.done</c>.</summary>
    private static IEnumerable<EngineCase> LoopRouting()
    {
        yield return Case("loop-step arcs route on loop.done, not call.done", """
            workflow:
              - step: start
                loop: {in: [1, 2], iterator: x}
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs:
                    - step: per_call
                      when: "{{ event.name == 'call.done' }}"
                    - step: after_loop
                      when: "{{ event.name == 'loop.done' }}"
              - step: per_call
                tool: {kind: noop}
              - step: after_loop
                tool: {kind: noop}
                input: {results: "{{ start.results }}"}
            """,
            g =>
            {
                g.Done("start", J("\"a\""), iteration: 0);
                g.Done("start", J("\"b\""), iteration: 1);
                g.Done("after_loop");
            },
            [.. Begin, "step.enter:start(2)", """issue:start[0] input={"x":1}""", "done:start",
             """issue:start[1] input={"x":2}""", "done:start", "loop.done:start", "step.skipped:per_call",
             """issue:after_loop input={"results":["a","b"]}""", "done:after_loop", .. Completed], false);

        yield return Case("a plain step's arcs see call.done", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  arcs:
                    - step: after_loop
                      when: "{{ event.name == 'loop.done' }}"
                    - step: per_call
                      when: "{{ event.name == 'call.done' }}"
              - step: per_call
                tool: {kind: noop}
              - step: after_loop
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("per_call");
            },
            [.. Begin, "issue:start", "done:start", "step.skipped:after_loop", "issue:per_call", "done:per_call", .. Completed], false);

        yield return Case("a loop step's set runs once per loop completion with the result list", """
            workflow:
              - step: start
                loop: {in: [a, b, c], iterator: letter, spec: {mode: parallel}}
                tool: {kind: noop}
                set: {ctx.joined: "{{ output.results | join('') }}", ctx.count: "{{ output.stats.total }}"}
            """,
            g =>
            {
                g.Done("start", J("\"C\""), iteration: 2);
                g.Done("start", J("\"A\""), iteration: 0);
                g.Done("start", J("\"B\""), iteration: 1);
            },
            [.. Begin, "step.enter:start(3)", """issue:start[0] input={"letter":"a"}""",
             """issue:start[1] input={"letter":"b"}""", """issue:start[2] input={"letter":"c"}""",
             "done:start", "done:start", "done:start", "loop.done:start", """ctx.updated:start {"joined":"ABC","count":3}""", .. Completed], false);

        yield return Case("loop iterations see iter.* and the context in the tool config", """
            workload: {prefix: row}
            workflow:
              - step: start
                loop: {in: "{{ [{'id': 1}, {'id': 2}] }}", iterator: rec, spec: {mode: parallel, max_in_flight: 1}}
                tool: {kind: http, url: "https://example.test/{{ prefix }}/{{ rec.id }}", index: "{{ iter._index }}", same: "{{ iter.rec.id == rec.id }}"}
            """,
            g =>
            {
                g.Done("start", iteration: 0);
                g.Done("start", iteration: 1);
            },
            [.. Begin, "step.enter:start(2)",
             """issue:start[0] input={"rec":{"id":1}} tool={"url":"https://example.test/row/1","index":0,"same":true}""", "done:start",
             """issue:start[1] input={"rec":{"id":2}} tool={"url":"https://example.test/row/2","index":1,"same":true}""", "done:start", "loop.done:start",
             .. Completed], false);
    }

    /// <summary>
    /// Graph shapes where liveness and routing once per completion decide: what is skipped, what waits (for a chain, a
    /// self-loop, a loop), what a waiting join keeps, what an exclusive branch inside a loop takes each round, and what the
    /// legacy list form takes.
    /// </summary>
    private static IEnumerable<EngineCase> Topologies()
    {
        yield return Case("a declined branch with a chain does not hold up the join", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs:
                    - step: a
                      when: "{{ false }}"
                    - step: b
              - step: a
                tool: {kind: noop}
                next: a2
              - step: a2
                tool: {kind: noop}
                next: join
              - step: b
                tool: {kind: noop}
                next: join
              - step: join
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("b");
                g.Done("join");
            },
            [.. Begin, "issue:start", "done:start", "step.skipped:a", "issue:b", "done:b", "issue:join", "done:join", .. Completed], false);

        yield return Case("a target declined by one arc but still reachable through another is not skipped", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs:
                    - step: a
                    - step: b
                      when: "{{ false }}"
              - step: a
                tool: {kind: noop}
                next: b
              - step: b
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("a");
                g.Done("b");
            },
            [.. Begin, "issue:start", "done:start", "issue:a", "done:a", "issue:b", "done:b", .. Completed], false);

        yield return Case("nested fan-in: the outer join waits for the inner join and the third branch", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: a}, {step: b}, {step: c}]
              - step: a
                tool: {kind: noop}
                next: inner
              - step: b
                tool: {kind: noop}
                next: inner
              - step: inner
                tool: {kind: noop}
                next: outer
              - step: c
                tool: {kind: noop}
                next: outer
              - step: outer
                tool: {kind: noop}
                input: {parts: "{{ [a.p, b.p, c.p] }}"}
            """,
            g =>
            {
                g.Done("start");
                g.Done("c", J("""{"p": 3}"""));
                g.Done("a", J("""{"p": 1}"""));
                g.Done("b", J("""{"p": 2}"""));
                g.Done("inner");
                g.Done("outer");
            },
            [.. Begin, "issue:start", "done:start", "issue:a", "issue:b", "issue:c", "done:c", "done:a", "done:b", "issue:inner", "done:inner",
             """issue:outer input={"parts":[1,2,3]}""", "done:outer", .. Completed], false);

        yield return Case("the legacy list form next: [a, b] takes both", """
            workflow:
              - step: start
                tool: {kind: noop}
                next: [a, b]
              - step: a
                tool: {kind: noop}
              - step: b
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("b");
                g.Done("a");
            },
            [.. Begin, "issue:start", "done:start", "issue:a", "issue:b", "done:b", "done:a", .. Completed], false);

        yield return Case("an empty loop on start completes in the first turn", """
            workflow:
              - step: start
                loop: {in: [], iterator: x}
                tool: {kind: noop}
                next: after
              - step: after
                tool: {kind: noop}
                input: {n: "{{ start.results | length }}"}
            """,
            g => g.Done("after"),
            [.. Begin, "step.enter:start(0)", "step.exit:start", "loop.done:start", """issue:after input={"n":0}""", "done:after", .. Completed], false);

        yield return Case("a sequential loop ignores max_in_flight", """
            workflow:
              - step: start
                loop: {in: [1, 2], iterator: x, spec: {mode: sequential, max_in_flight: 5}}
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start", iteration: 0);
                g.Done("start", iteration: 1);
            },
            [.. Begin, "step.enter:start(2)", """issue:start[0] input={"x":1}""", "done:start",
             """issue:start[1] input={"x":2}""", "done:start", "loop.done:start", .. Completed], false);

        yield return Case("exclusive routing out of a loop step chooses on the result list", """
            workflow:
              - step: start
                loop: {in: [3, 4], iterator: x, spec: {mode: parallel}}
                tool: {kind: noop}
                next:
                  arcs:
                    - step: all_even
                      when: "{{ event.name == 'loop.done' and output.results | join(',') == 'even,even' }}"
                    - step: mixed
              - step: all_even
                tool: {kind: noop}
              - step: mixed
                tool: {kind: noop}
                input: {parities: "{{ start.results }}"}
            """,
            g =>
            {
                g.Done("start", J("\"even\""), iteration: 1);
                g.Done("start", J("\"odd\""), iteration: 0);
                g.Done("mixed");
            },
            [.. Begin, "step.enter:start(2)", """issue:start[0] input={"x":3}""", """issue:start[1] input={"x":4}""",
             "done:start", "done:start", "loop.done:start", "step.skipped:all_even", """issue:mixed input={"parities":["odd","even"]}""", "done:mixed", .. Completed], false);

        yield return Case("an exclusive branch inside a loop alternates sides and merges once per round", """
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
                input: {i: "{{ ctx.i }}"}
                set: {ctx.i: "{{ ctx.i + 1 }}"}
                next:
                  arcs:
                    - step: fork
                      when: "{{ ctx.i < 3 }}"
            """,
            g =>
            {
                g.Done("start");
                foreach (var side in new[] { "even", "odd", "even" })
                {
                    g.Done("fork");
                    g.Done(side);
                    g.Done("merge");
                }
            },
            [.. Begin, "issue:start", "done:start", """ctx.updated:start {"i":0}""", "issue:fork",
             "done:fork", "step.skipped:odd", "issue:even", "done:even", """issue:merge input={"i":0}""", "done:merge", """ctx.updated:merge {"i":1}""", "issue:fork",
             "done:fork", "issue:odd", "done:odd", """issue:merge input={"i":1}""", "done:merge", """ctx.updated:merge {"i":2}""", "issue:fork",
             "done:fork", "issue:even", "done:even", """issue:merge input={"i":2}""", "done:merge", """ctx.updated:merge {"i":3}""",
             .. Completed], false);

        yield return Case("a join waits for a self-looping branch to stop looping", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: poll}, {step: quick}]
              - step: poll
                tool: {kind: noop}
                next:
                  arcs:
                    - step: poll
                      when: "{{ not output.ready }}"
                    - step: join
              - step: quick
                tool: {kind: noop}
                next: join
              - step: join
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("quick");
                g.Done("poll", J("""{"ready": false}"""));
                g.Done("poll", J("""{"ready": false}"""));
                g.Done("poll", J("""{"ready": true}"""));
                g.Done("join");
            },
            [.. Begin, "issue:start", "done:start", "issue:poll", "issue:quick", "done:quick", "done:poll", "issue:poll", "done:poll", "issue:poll",
             "done:poll", "issue:join", "done:join", .. Completed], false);

        yield return Case("a join waits for a parallel loop branch to finish every iteration", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: each}, {step: plain}]
              - step: each
                loop: {in: [1, 2, 3], iterator: x, spec: {mode: parallel, max_in_flight: 2}}
                tool: {kind: noop}
                next: join
              - step: plain
                tool: {kind: noop}
                next: join
              - step: join
                tool: {kind: noop}
                input: {each: "{{ each.results }}", plain: "{{ plain.v }}"}
            """,
            g =>
            {
                g.Done("start");
                g.Done("each", J("10"), iteration: 0);
                g.Done("plain", J("""{"v": "p"}"""));
                g.Done("each", J("20"), iteration: 1);
                g.Done("each", J("30"), iteration: 2);
                g.Done("join");
            },
            [.. Begin, "issue:start", "done:start", "step.enter:each(3)", """issue:each[0] input={"x":1}""",
             """issue:each[1] input={"x":2}""", "issue:plain", "done:each", """issue:each[2] input={"x":3}""",
             "done:plain", "done:each", "done:each", "loop.done:each", """issue:join input={"each":[10,20,30],"plain":"p"}""", "done:join", .. Completed], false);

        yield return Case("a failure beside a running parallel loop stops its dispatch and drains it", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: each}, {step: fragile}]
              - step: each
                loop: {in: [1, 2, 3, 4], iterator: x, spec: {mode: parallel, max_in_flight: 2}}
                tool: {kind: noop}
              - step: fragile
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Error("fragile", "quota exceeded");
                g.Done("each", iteration: 0);
                g.Done("each", iteration: 1);
            },
            [.. Begin, "issue:start", "done:start", "step.enter:each(4)", """issue:each[0] input={"x":1}""",
             """issue:each[1] input={"x":2}""", "issue:fragile", "error:fragile", "done:each", "done:each",
             .. Failed("Failed steps: fragile")], true);

        yield return Case("an exclusive choice of a waiting join keeps its arc set until the join is released", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: s}, {step: u}]
              - step: s
                tool: {kind: noop}
                next:
                  arcs:
                    - step: join
                      when: "{{ output.go }}"
                      set: {ctx.from_s: "{{ output.tag }}"}
                    - step: other
              - step: u
                tool: {kind: noop}
                next: join
              - step: other
                tool: {kind: noop}
              - step: join
                tool: {kind: noop}
                input: {from_s: "{{ ctx.from_s }}"}
            """,
            g =>
            {
                g.Done("start");
                g.Done("s", J("""{"go": true, "tag": "S"}"""));
                g.Done("u");
                g.Done("join");
            },
            [.. Begin, "issue:start", "done:start", "issue:s", "issue:u", "done:s", "step.skipped:other", "done:u",
             """ctx.updated:s {"from_s":"S"}""", """issue:join input={"from_s":"S"}""", "done:join", .. Completed], false);

        yield return Case("an inclusive step's waiting join is released after its other branch already ran", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: s}, {step: u}]
              - step: s
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: a}, {step: join}]
              - step: a
                tool: {kind: noop}
              - step: u
                tool: {kind: noop}
                next: join
              - step: join
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("s");
                g.Done("a");
                g.Done("u");
                g.Done("join");
            },
            [.. Begin, "issue:start", "done:start", "issue:s", "issue:u", "done:s", "issue:a", "done:a", "done:u", "issue:join", "done:join",
             .. Completed], false);
    }

    /// <summary>Loops combined with the rest: re-entry, collections from ctx and results, worker outcome variants, inline completion.</summary>
    private static IEnumerable<EngineCase> LoopsInContext()
    {
        yield return Case("a sequential loop inside a back-edge loop starts over each round", """
            workflow:
              - step: start
                tool: {kind: noop}
                set: {ctx.round: 0}
                next: batch
              - step: batch
                loop: {in: [x, y], iterator: v}
                tool: {kind: noop}
                next: check
              - step: check
                tool: {kind: noop}
                set: {ctx.round: "{{ ctx.round + 1 }}"}
                next:
                  arcs:
                    - step: batch
                      when: "{{ ctx.round < 2 }}"
            """,
            g =>
            {
                g.Done("start");
                for (var round = 0; round < 2; round++)
                {
                    g.Done("batch", iteration: 0);
                    g.Done("batch", iteration: 1);
                    g.Done("check");
                }
            },
            [.. Begin, "issue:start", "done:start", """ctx.updated:start {"round":0}""",
             "step.enter:batch(2)", """issue:batch[0] input={"v":"x"}""", "done:batch", """issue:batch[1] input={"v":"y"}""",
             "done:batch", "loop.done:batch", "issue:check", "done:check", """ctx.updated:check {"round":1}""",
             "step.enter:batch(2)", """issue:batch[0] input={"v":"x"}""", "done:batch", """issue:batch[1] input={"v":"y"}""",
             "done:batch", "loop.done:batch", "issue:check", "done:check", """ctx.updated:check {"round":2}""", .. Completed], false);

        yield return Case("an arc set feeds the loop collection of its target", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  arcs:
                    - step: each
                      set: {ctx.n: "{{ output.count }}"}
              - step: each
                loop: {in: "{{ ctx.n }}", iterator: i, spec: {mode: parallel}}
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start", J("""{"count": 2}"""));
                g.Done("each", iteration: 1);
                g.Done("each", iteration: 0);
            },
            [.. Begin, "issue:start", "done:start", """ctx.updated:start {"n":2}""", "step.enter:each(2)",
             """issue:each[0] input={"i":0}""", """issue:each[1] input={"i":1}""", "done:each", "done:each", "loop.done:each",
             .. Completed], false);

        yield return Case("the loop collection can come from an earlier step's result", """
            workflow:
              - step: start
                tool: {kind: postgres, query: "select id from rows"}
                next: each
              - step: each
                loop: {in: "{{ start.rows }}", iterator: row, spec: {mode: parallel}}
                tool: {kind: http, url: "https://example.test/rows/{{ row.id }}"}
            """,
            g =>
            {
                g.Done("start", J("""{"rows": [{"id": 4}, {"id": 9}]}"""));
                g.Done("each", iteration: 0);
                g.Done("each", iteration: 1);
            },
            [.. Begin, """issue:start tool={"query":"select id from rows"}""", "done:start", "step.enter:each(2)",
             """issue:each[0] input={"row":{"id":4}} tool={"url":"https://example.test/rows/4"}""",
             """issue:each[1] input={"row":{"id":9}} tool={"url":"https://example.test/rows/9"}""",
             "done:each", "done:each", "loop.done:each", .. Completed], false);

        yield return Case("worker _context_updates are visible to the same step's set", """
            workflow:
              - step: start
                tool: {kind: python, code: "..."}
                set: {ctx.copy: "{{ ctx.token }}-{{ output.n }}"}
                next: second
              - step: second
                tool: {kind: noop}
                input: {token: "{{ token }}", copy: "{{ copy }}"}
            """,
            g =>
            {
                g.Done("start", J("""{"_context_updates": {"token": "t"}, "n": 1}"""));
                g.Done("second");
            },
            [.. Begin, """issue:start tool={"code":"..."}""", "done:start", """ctx.updated:start {"copy":"t-1"}""",
             """issue:second input={"token":"t","copy":"t-1"}""", "done:second", .. Completed], false);

        yield return Case("an iteration finished by command.completed alone frees its slot and records its envelope", """
            workflow:
              - step: start
                loop: {in: [a, b, c], iterator: x, spec: {mode: parallel, max_in_flight: 1}}
                tool: {kind: noop}
                next: after
              - step: after
                tool: {kind: noop}
                input: {results: "{{ start.results }}"}
            """,
            g =>
            {
                g.Completed(g.CommandOf("start", iteration: 0));
                g.Done("start", J("\"r1\""), iteration: 1);
                g.Done("start", J("\"r2\""), iteration: 2);
                g.Done("after");
            },
            [.. Begin, "step.enter:start(3)", """issue:start[0] input={"x":"a"}""", "completed:start",
             """issue:start[1] input={"x":"b"}""", "done:start", """issue:start[2] input={"x":"c"}""", "done:start", "loop.done:start",
             """issue:after input={"results":[{"status":"COMPLETED"},"r1","r2"]}""", "done:after", .. Completed], false);

        yield return Case("a repeated call.done for an iteration changes nothing", """
            workflow:
              - step: start
                loop: {in: [a, b], iterator: x, spec: {mode: parallel, max_in_flight: 1}}
                tool: {kind: noop}
            """,
            g =>
            {
                var first = g.CommandOf("start", iteration: 0);
                g.CallDone(first, "once");
                g.CallDone(first, "twice");
                g.Done("start", iteration: 1);
            },
            [.. Begin, "step.enter:start(2)", """issue:start[0] input={"x":"a"}""", "done:start",
             """issue:start[1] input={"x":"b"}""", "done:start", "loop.done:start", .. Completed], false);

        yield return Case("a self-loop counts with an arc set on the self arc", """
            workflow:
              - step: start
                tool: {kind: noop}
                set: {ctx.tries: 1}
                next: poll
              - step: poll
                tool: {kind: noop}
                input: {try: "{{ ctx.tries }}"}
                next:
                  arcs:
                    - step: poll
                      when: "{{ ctx.tries < 3 }}"
                      set: {ctx.tries: "{{ ctx.tries + 1 }}"}
                    - step: finish
              - step: finish
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                for (var i = 0; i < 3; i++)
                    g.Done("poll");
                g.Done("finish");
            },
            [.. Begin, "issue:start", "done:start", """ctx.updated:start {"tries":1}""", """issue:poll input={"try":1}""", "done:poll",
             """ctx.updated:poll {"tries":2}""", """issue:poll input={"try":2}""", "done:poll", """ctx.updated:poll {"tries":3}""",
             """issue:poll input={"try":3}""", "done:poll", "issue:finish", "done:finish", .. Completed], false);

        yield return Case("a chain of empty loops completes inside one decision", """
            workflow:
              - step: start
                tool: {kind: noop}
                next: e1
              - step: e1
                loop: {in: [], iterator: x}
                tool: {kind: noop}
                next: e2
              - step: e2
                loop: {in: "{{ [] }}", iterator: y}
                tool: {kind: noop}
                next: after
              - step: after
                tool: {kind: noop}
                input: {a: "{{ e1.results }}", b: "{{ e2.results | length }}"}
            """,
            g =>
            {
                g.Done("start");
                g.Done("after");
            },
            [.. Begin, "issue:start", "done:start", "step.enter:e1(0)", "step.exit:e1", "loop.done:e1", "step.enter:e2(0)", "step.exit:e2", "loop.done:e2",
             """issue:after input={"a":[],"b":0}""", "done:after", .. Completed], false);

        yield return Case("an empty loop as one fan-in upstream does not release the join early", """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: a}, {step: empty}]
              - step: a
                tool: {kind: noop}
                next: join
              - step: empty
                loop: {in: [], iterator: x}
                tool: {kind: noop}
                next: join
              - step: join
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("a");
                g.Done("join");
            },
            [.. Begin, "issue:start", "done:start", "issue:a", "step.enter:empty(0)", "step.exit:empty", "loop.done:empty", "done:a", "issue:join", "done:join",
             .. Completed], false);

        yield return Case("a loop step looping back to itself fans out afresh with the updated ctx", """
            workflow:
              - step: start
                tool: {kind: noop}
                set: {ctx.k: 0}
                next: each
              - step: each
                loop: {in: "{{ [ctx.k, ctx.k + 1] }}", iterator: v, spec: {mode: parallel}}
                tool: {kind: noop}
                set: {ctx.k: "{{ ctx.k + 2 }}"}
                next:
                  arcs:
                    - step: each
                      when: "{{ ctx.k < 4 }}"
            """,
            g =>
            {
                g.Done("start");
                g.Done("each", iteration: 0);
                g.Done("each", iteration: 1);
                g.Done("each", iteration: 1);
                g.Done("each", iteration: 0);
            },
            [.. Begin, "issue:start", "done:start", """ctx.updated:start {"k":0}""", "step.enter:each(2)",
             """issue:each[0] input={"v":0}""", """issue:each[1] input={"v":1}""", "done:each", "done:each", "loop.done:each",
             """ctx.updated:each {"k":2}""", "step.enter:each(2)",
             """issue:each[0] input={"v":2}""", """issue:each[1] input={"v":3}""", "done:each", "done:each", "loop.done:each",
             """ctx.updated:each {"k":4}""", .. Completed], false);
    }
}
