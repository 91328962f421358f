using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Tests.Engine;

/// <summary>A playbook, a script of worker events, and the exact log the engine must produce.</summary>
public sealed record EngineCase(string Name, string Yaml, Action<ExecutionDriver> Script, string[] Trace, bool? Failed)
{
    /// <summary>The execute request's payload, deep-merged over the playbook workload.</summary>
    public JsonObject? Payload { get; init; }

    /// <summary>Compare <see cref="ExecutionDriver.DetailedTrace"/>, which also shows each command's rendered input and tool config.</summary>
    public bool Detailed { get; init; }

    public override string ToString() => Name;
}

public static partial class EngineCases
{
    private const string Header = """
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata:
          name: demo
          path: tests/demo

        """;

    private static JsonNode J(string json) => JsonNode.Parse(json)!;

    public static readonly EngineCase[] All =
    [
        new("linear three steps", Header + """
            workload:
              base: 10
            workflow:
              - step: start
                tool: {kind: noop}
                next: second
              - step: second
                tool: {kind: noop}
                input:
                  total: "{{ start.value + base }}"
                next: third
              - step: third
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start", J("""{"value": 5}"""));
                g.Completed(g.CommandOf("start"));
                g.Done("second");
                g.Completed(g.CommandOf("second"));
                g.Done("third");
                g.Completed(g.CommandOf("third"));
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "issue:second", "completed:start",
             "done:second", "issue:third", "completed:second", "done:third", "workflow.completed", "playbook.completed", "completed:third"],
            false),

        new("exclusive branch skips the sibling and merges once", Header + """
            workload:
              amount: 50
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: exclusive}
                  arcs:
                    - step: big
                      when: "{{ amount > 100 }}"
                    - step: small
              - step: big
                tool: {kind: noop}
                next: merge
              - step: small
                tool: {kind: noop}
                next: merge
              - step: merge
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("small");
                g.Done("merge");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "step.skipped:big", "issue:small",
             "done:small", "issue:merge", "done:merge", "workflow.completed", "playbook.completed"],
            false),

        new("inclusive fan-out reduces once after both", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs:
                    - step: left
                    - step: right
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
            """,
            g =>
            {
                g.Done("start");
                g.Done("right", J("""{"n": 2}"""));
                g.Completed(g.CommandOf("right"));
                g.Done("left", J("""{"n": 1}"""));
                g.Done("reduce");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "issue:left", "issue:right",
             "done:right", "completed:right", "done:left", "issue:reduce", "done:reduce", "workflow.completed", "playbook.completed"],
            false),

        new("counter loop over a back-edge terminates", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                set:
                  ctx.i: 0
                next: body
              - step: body
                tool: {kind: noop}
                input:
                  i: "{{ ctx.i }}"
                set:
                  ctx.i: "{{ ctx.i + 1 }}"
                next: check
              - step: check
                tool: {kind: noop}
                next:
                  arcs:
                    - step: body
                      when: "{{ ctx.i < 3 }}"
                    - step: end
              - step: end
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                for (var i = 0; i < 3; i++)
                {
                    g.Done("body");
                    g.Done("check");
                }
                g.Done("end");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "ctx.updated:start {\"i\":0}", "issue:body",
             "done:body", "ctx.updated:body {\"i\":1}", "issue:check", "done:check", "issue:body",
             "done:body", "ctx.updated:body {\"i\":2}", "issue:check", "done:check", "issue:body",
             "done:body", "ctx.updated:body {\"i\":3}", "issue:check", "done:check", "issue:end",
             "done:end", "workflow.completed", "playbook.completed"],
            false),

        new("self-loop polls until ready", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next: poll
              - step: poll
                tool: {kind: http, url: "https://example.test/status"}
                next:
                  arcs:
                    - step: poll
                      when: "{{ not output.ready }}"
                    - step: finish
              - step: finish
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("poll", J("""{"ready": false}"""));
                g.Done("poll", J("""{"ready": false}"""));
                g.Done("poll", J("""{"ready": true}"""));
                g.Done("finish");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "issue:poll", "done:poll", "issue:poll",
             "done:poll", "issue:poll", "done:poll", "issue:finish", "done:finish", "workflow.completed", "playbook.completed"],
            false),

        new("sequential loop dispatches one at a time", Header + """
            workload:
              cities: [Oslo, Lima, Pune]
            workflow:
              - step: start
                tool: {kind: noop}
                next: visit
              - step: visit
                loop:
                  in: "{{ workload.cities }}"
                  iterator: city
                  spec: {mode: sequential}
                tool: {kind: noop, result: "{{ city }}"}
                next:
                  arcs:
                    - step: report
                      when: "{{ event.name == 'loop.done' }}"
              - step: report
                tool: {kind: noop}
                input:
                  visited: "{{ visit.results }}"
            """,
            g =>
            {
                g.Done("start");
                g.Done("visit", J("\"Oslo\""));
                g.Done("visit", J("\"Lima\""));
                g.Done("visit", J("\"Pune\""));
                g.Done("report");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "step.enter:visit(3)", "issue:visit[0]",
             "done:visit", "issue:visit[1]", "done:visit", "issue:visit[2]", "done:visit", "loop.done:visit", "issue:report", "done:report",
             "workflow.completed", "playbook.completed"],
            false),

        new("parallel loop honours max_in_flight", Header + """
            workflow:
              - step: start
                loop:
                  in: [1, 2, 3, 4, 5]
                  iterator: n
                  spec: {mode: parallel, max_in_flight: 2}
                tool: {kind: noop}
                next: after
              - step: after
                tool: {kind: noop}
                input:
                  squares: "{{ start.results }}"
            """,
            g =>
            {
                g.Done("start", J("11"), iteration: 1);
                g.Done("start", J("10"), iteration: 0);
                g.Done("start", J("12"), iteration: 2);
                g.Done("start", J("13"), iteration: 3);
                g.Done("start", J("14"), iteration: 4);
                g.Done("after");
            },
            ["playbook.initialized", "workflow.initialized", "step.enter:start(5)", "issue:start[0]", "issue:start[1]",
             "done:start", "issue:start[2]", "done:start", "issue:start[3]", "done:start", "issue:start[4]", "done:start",
             "done:start", "loop.done:start", "issue:after", "done:after", "workflow.completed", "playbook.completed"],
            false),

        new("parallel loop without a budget dispatches everything", Header + """
            workflow:
              - step: start
                loop:
                  in: "{{ 3 }}"
                  iterator: n
                  spec: {mode: parallel}
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start", iteration: 2);
                g.Done("start", iteration: 0);
                g.Done("start", iteration: 1);
            },
            ["playbook.initialized", "workflow.initialized", "step.enter:start(3)", "issue:start[0]", "issue:start[1]", "issue:start[2]",
             "done:start", "done:start", "done:start", "loop.done:start", "workflow.completed", "playbook.completed"],
            false),

        new("empty loop completes at once and routes on", Header + """
            workload:
              rows: []
            workflow:
              - step: start
                tool: {kind: noop}
                next: each
              - step: each
                loop: {in: "{{ rows }}", iterator: row}
                tool: {kind: noop}
                next: after
              - step: after
                tool: {kind: noop}
                input:
                  count: "{{ each.results | length }}"
            """,
            g =>
            {
                g.Done("start");
                g.Done("after");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "step.enter:each(0)", "step.exit:each", "loop.done:each",
             "issue:after", "done:after", "workflow.completed", "playbook.completed"],
            false),

        new("non-iterable loop fails the execution", Header + """
            workload:
              flag: true
            workflow:
              - step: start
                tool: {kind: noop}
                next: each
              - step: each
                loop: {in: "{{ flag }}", iterator: x}
                tool: {kind: noop}
            """,
            g => g.Done("start"),
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start",
             "workflow.failed: loop step 'each': loop.in must evaluate to a collection, got true",
             "playbook.failed: loop step 'each': loop.in must evaluate to a collection, got true"],
            true),

        new("failure waits for a running sibling", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: a}, {step: b}]
              - step: a
                tool: {kind: noop}
                next: c
              - step: b
                tool: {kind: noop}
                next: c
              - step: c
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Error("a");
                g.CommandFailed(g.CommandOf("a"));
                g.Done("b");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "issue:a", "issue:b", "error:a", "failed:a",
             "done:b", "workflow.failed: Failed steps: a", "playbook.failed: Failed steps: a"],
            true),

        new("command.failed alone fails the step", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
            """,
            g => g.CommandFailed(g.CommandOf("start"), "worker lost"),
            ["playbook.initialized", "workflow.initialized", "issue:start", "failed:start",
             "workflow.failed: Failed steps: start", "playbook.failed: Failed steps: start"],
            true),

        new("render error fails the execution", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next: broken
              - step: broken
                tool: {kind: noop}
                input:
                  ratio: "{{ 1 / 0 }}"
            """,
            g => g.Done("start"),
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start",
             "workflow.failed: step 'broken': template error: division by zero (at position 5 in template '{{ 1 / 0 }}')",
             "playbook.failed: step 'broken': template error: division by zero (at position 5 in template '{{ 1 / 0 }}')"],
            true),

        new("explicit end step", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next: [{step: end}]
              - step: end
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("end");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "issue:end", "done:end",
             "workflow.completed", "playbook.completed"],
            false),

        new("implicit end completes when nothing runs", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: end}, {step: side}]
              - step: side
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("side");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "issue:side", "done:side",
             "workflow.completed", "playbook.completed"],
            false),

        new("duplicate command.completed changes nothing", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next: second
              - step: second
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Completed(g.CommandOf("start"));
                g.Completed(g.CommandOf("start"));
                g.Done("second");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "issue:second", "completed:start",
             "done:second", "workflow.completed", "playbook.completed"],
            false),

        new("command.completed without call.done completes the step", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next: second
              - step: second
                tool: {kind: noop}
            """,
            g =>
            {
                g.Completed(g.CommandOf("start"));
                g.Completed(g.CommandOf("second"));
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "completed:start", "issue:second", "completed:second",
             "workflow.completed", "playbook.completed"],
            false),

        new("arc set feeds the next command", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  arcs:
                    - step: second
                      set:
                        ctx.label: "{{ output.name | upper }}"
              - step: second
                tool: {kind: noop}
                input:
                  label: "{{ ctx.label }}"
            """,
            g =>
            {
                g.Done("start", J("""{"name": "ada"}"""));
                g.Done("second");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "ctx.updated:start {\"label\":\"ADA\"}",
             "issue:second", "done:second", "workflow.completed", "playbook.completed"],
            false),

        new("dead end completes", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  arcs:
                    - step: never
                      when: "{{ false }}"
              - step: never
                tool: {kind: noop}
            """,
            g => g.Done("start"),
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "step.skipped:never",
             "workflow.completed", "playbook.completed"],
            false),

        new("exclusive diamond into a barrier with a skipped upstream", Header + """
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
                g.Done("a");
                g.Done("join");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "step.skipped:b", "issue:a", "done:a",
             "issue:join", "done:join", "workflow.completed", "playbook.completed"],
            false),

        new("loop iteration failure drains then fails", Header + """
            workflow:
              - step: start
                loop:
                  in: [a, b, c]
                  iterator: x
                  spec: {mode: parallel, max_in_flight: 2}
                tool: {kind: noop}
            """,
            g =>
            {
                g.Error("start", "bad row", iteration: 0);
                g.Done("start", iteration: 1);
            },
            ["playbook.initialized", "workflow.initialized", "step.enter:start(3)", "issue:start[0]", "issue:start[1]",
             "error:start", "done:start", "workflow.failed: Failed steps: start", "playbook.failed: Failed steps: start"],
            true),

        new("worker _context_updates reach later steps", Header + """
            workflow:
              - step: start
                tool: {kind: python, code: "..."}
                next: second
              - step: second
                tool: {kind: noop}
                input:
                  token: "{{ ctx.token }}"
            """,
            g =>
            {
                g.Done("start", J("""{"_context_updates": {"token": "t-1"}}"""));
                g.Done("second");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "issue:second", "done:second",
             "workflow.completed", "playbook.completed"],
            false),

        new("fan-in inside a loop waits for both branches every round", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                set: {ctx.round: 0}
                next: fork
              - step: fork
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: a}, {step: b}]
              - step: a
                tool: {kind: noop}
                next: join
              - step: b
                tool: {kind: noop}
                next: join
              - step: join
                tool: {kind: noop}
                set: {ctx.round: "{{ ctx.round + 1 }}"}
                next:
                  arcs:
                    - step: fork
                      when: "{{ ctx.round < 2 }}"
                    - step: end
            """,
            g =>
            {
                g.Done("start");
                for (var i = 0; i < 2; i++)
                {
                    g.Done("fork");
                    g.Done("a");
                    g.Done("b");
                    g.Done("join");
                }
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "ctx.updated:start {\"round\":0}", "issue:fork",
             "done:fork", "issue:a", "issue:b", "done:a", "done:b", "issue:join", "done:join", "ctx.updated:join {\"round\":1}", "issue:fork",
             "done:fork", "issue:a", "issue:b", "done:a", "done:b", "issue:join", "done:join", "ctx.updated:join {\"round\":2}",
             "workflow.completed", "playbook.completed"],
            false),

        new("python worker noise: step.enter is ignored and step.exit completes", Header + """
            workflow:
              - step: start
                tool: {kind: python, code: "..."}
                next: second
              - step: second
                tool: {kind: noop}
                input: {got: "{{ start.x }}"}
            """,
            g =>
            {
                var id = g.CommandOf("start");
                g.Worker("command.started", id, new JsonObject { ["command_id"] = id });
                g.Worker("step.enter", id, new JsonObject { ["status"] = "started" });
                g.Worker("step.exit", id, new JsonObject { ["command_id"] = id, ["result"] = J("""{"status": "ok", "context": {"data": {"x": 9}}}""") });
                g.Done("start", J("""{"x": 1}"""));
                g.Done("second");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "command.started:start", "step.enter:start()", "step.exit:start",
             "issue:second", "done:start", "done:second", "workflow.completed", "playbook.completed"],
            false),

        new("a loop step inside a cycle re-enters with a fresh fan-out", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                set: {ctx.round: 0}
                next: batch
              - step: batch
                loop: {in: "{{ [ctx.round, ctx.round + 10] }}", iterator: v, spec: {mode: parallel}}
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
                g.Done("batch", J("0"), iteration: 0);
                g.Done("batch", J("10"), iteration: 1);
                g.Done("check");
                g.Done("batch", J("1"), iteration: 0);
                g.Done("batch", J("11"), iteration: 1);
                g.Done("check");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "ctx.updated:start {\"round\":0}",
             "step.enter:batch(2)", "issue:batch[0]", "issue:batch[1]", "done:batch", "done:batch", "loop.done:batch", "issue:check", "done:check",
             "ctx.updated:check {\"round\":1}", "step.enter:batch(2)", "issue:batch[0]", "issue:batch[1]", "done:batch", "done:batch", "loop.done:batch",
             "issue:check", "done:check", "ctx.updated:check {\"round\":2}", "workflow.completed", "playbook.completed"],
            false),

        new("barrier waits for an upstream reachable through a chain", Header + """
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
            """,
            g =>
            {
                g.Done("start");
                g.Done("a");
                g.Done("b");
                g.Done("b2");
                g.Done("join");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "issue:a", "issue:b", "done:a", "done:b",
             "issue:b2", "done:b2", "issue:join", "done:join", "workflow.completed", "playbook.completed"],
            false),

        new("a join nobody routes to is skipped once both branches decline", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: a}, {step: b}]
              - step: a
                tool: {kind: noop}
                next: [{step: join, when: "{{ false }}"}]
              - step: b
                tool: {kind: noop}
                next: [{step: join, when: "{{ output.go }}"}]
              - step: join
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("a");
                g.Done("b", J("""{"go": false}"""));
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "issue:a", "issue:b", "done:a", "done:b",
             "step.skipped:join", "workflow.completed", "playbook.completed"],
            false),

        new("a join one branch wants still runs when the other declines", Header + """
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
                next: [{step: join, when: "{{ false }}"}]
              - step: join
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("a");
                g.Done("b");
                g.Done("join");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "issue:a", "issue:b", "done:a", "done:b",
             "issue:join", "done:join", "workflow.completed", "playbook.completed"],
            false),

        new("the first outcome of a command wins", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next: second
              - step: second
                tool: {kind: noop}
            """,
            g =>
            {
                var id = g.CommandOf("start");
                g.CallDone(id);
                g.Worker("call.error", id, new JsonObject { ["command_id"] = id, ["error"] = "late" });
                g.CommandFailed(id, "late");
                g.Done("second");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "issue:second", "error:start", "failed:start",
             "done:second", "workflow.completed", "playbook.completed"],
            false),

        new("step set sees output and routes on the new value", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                set:
                  ctx.total: "{{ output.count * 2 }}"
                  audit.source: "{{ output.source | default('unknown') }}"
                next:
                  arcs:
                    - step: large
                      when: "{{ ctx.total > 10 }}"
                    - step: end
              - step: large
                tool: {kind: noop}
                input: {total: "{{ total }}", source: "{{ ctx['audit.source'] }}"}
            """,
            g =>
            {
                g.Done("start", J("""{"count": 6}"""));
                g.Done("large");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start",
             "ctx.updated:start {\"total\":12,\"audit.source\":\"unknown\"}", "issue:large", "done:large",
             "workflow.completed", "playbook.completed"],
            false),

        new("arc set on the arc to end is not applied", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  arcs:
                    - step: end
                      set: {ctx.ignored: 1}
            """,
            g => g.Done("start"),
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "workflow.completed", "playbook.completed"],
            false),

        new("sequential loop with a failing iteration stops dispatching", Header + """
            workflow:
              - step: start
                loop: {in: [1, 2, 3], iterator: n}
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start", iteration: 0);
                g.Error("start", "bad", iteration: 1);
            },
            ["playbook.initialized", "workflow.initialized", "step.enter:start(3)", "issue:start[0]", "done:start", "issue:start[1]",
             "error:start", "workflow.failed: Failed steps: start", "playbook.failed: Failed steps: start"],
            true),

        new("execution stays running while commands are in flight", Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: a}, {step: b}]
              - step: a
                tool: {kind: noop}
              - step: b
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start");
                g.Done("a");
            },
            ["playbook.initialized", "workflow.initialized", "issue:start", "done:start", "issue:a", "issue:b", "done:a"],
            null),
    ];

    public static IEnumerable<object[]> Data => All.Concat(Catalog).Select(c => new object[] { c });
}
