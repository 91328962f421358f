using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Tests.Engine;

/// <summary>
/// What NoETL's workers and playbooks expect of commands and results (issue #15, "Server"): one case per rule, each citing it.
/// </summary>
public static partial class EngineCases
{
    private static IEnumerable<EngineCase> NoEtlShapes()
    {
        // 1. render_context namespaces: ctx, workload, job, event and output render on the server too; a pipeline task's
        // input is left for the worker, which reads ctx.n through the command's ctx namespace (RenderContextTests).
        yield return Case("an arc's ctx write reaches the next pipeline through ctx, workload, job, event and output", """
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
                    url: "https://example.test/{{ job.uuid }}/{{ ctx.n }}/{{ workload.n }}/{{ event.name }}/{{ output.v }}"
                    input: {n: "{{ ctx.n }}"}
            """,
            g =>
            {
                g.Done("start", J("""{"v": "x"}"""));
                g.Done("pipe", J("""{"status": "success", "results": {"first": {}}, "_prev": {}, "ctx": {}}"""));
            },
            [.. Begin, "issue:start", "done:start", """ctx.updated:start {"n":5}""",
             """issue:pipe tool={"tasks":[{"name":"first","kind":"http","url":"https://example.test/42/5/5/call.done/x","input":{"n":"{{ ctx.n }}"}}]}""",
             "done:pipe", .. Completed], false);

        // 2. A task sequence's call.done {status, _prev, results, ctx}: ctx is written into the variables before the step's
        // set and arcs; the step result is the last task's mapping with the response merged over it.
        yield return Case("a task sequence's ctx and last task's fields drive its set and arcs", """
            workflow:
              - step: start
                tool:
                  - {name: fetch, kind: http, url: "https://example.test/a"}
                  - {name: shape, kind: python, code: "result = {}"}
                set: {ctx.total: "{{ ctx.count }}"}
                next:
                  arcs:
                    - step: big
                      when: "{{ start.rows > 1 and count == '3' }}"
                    - step: small
              - step: big
                tool: {kind: noop}
                input: {rows: "{{ start.rows }}", count: "{{ count }}", total: "{{ total }}", status: "{{ start.status }}", fetched: "{{ start.results.fetch.id }}"}
              - step: small
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("start", J("""{"status": "success", "_prev": {"rows": 2}, "results": {"fetch": {"id": 9}, "shape": {"rows": 2}}, "ctx": {"count": "3"}}"""));
                g.Done("big");
            },
            [.. Begin, """issue:start tool={"tasks":[{"name":"fetch","kind":"http","url":"https://example.test/a"},{"name":"shape","kind":"python","code":"result = {}"}]}""",
             "done:start", """ctx.updated:start {"total":"3"}""", "step.skipped:small",
             """issue:big input={"rows":2,"count":"3","total":"3","status":"success","fetched":9}""", "done:big", .. Completed], false);

        // 3. The loop step's result is {results, stats} with a context copy; loop.done carries it before the arcs run.
        yield return Case("a loop step's result is results and stats, announced by loop.done", """
            workflow:
              - step: each
                loop: {in: [a, b, c], iterator: x, spec: {mode: parallel}}
                tool: {kind: noop}
                next:
                  arcs:
                    - step: after
                      when: "{{ event.name == 'loop.done' and each.stats.total == 3 }}"
              - step: after
                tool: {kind: noop}
                input: {results: "{{ each.results }}", stats: "{{ each.stats }}", copy: "{{ each.context.stats.success }}"}
            """,
            g =>
            {
                g.Done("each", J("\"C\""), iteration: 2);
                g.Done("each", J("\"A\""), iteration: 0);
                g.Done("each", J("\"B\""), iteration: 1);
                g.Done("after");
            },
            [.. Begin, "step.enter:each(3)", """issue:each[0] input={"x":"a"}""", """issue:each[1] input={"x":"b"}""", """issue:each[2] input={"x":"c"}""",
             "done:each", "done:each", "done:each", "loop.done:each",
             """issue:after input={"results":["A","B","C"],"stats":{"total":3,"success":3,"failed":0},"copy":3}""", "done:after", .. Completed], false);

        // 4. Iteration bindings: the iterator and loop_index as names, iter = {<iterator>, _index, _first, _last, loop_event_id},
        // loop = {index, first, length, done}; only the iterator joins the input.
        yield return Case("an iteration sees loop_index, iter.* and loop.* and its input holds no _index or _total", """
            workflow:
              - step: each
                loop: {in: [a, b], iterator: item, spec: {mode: sequential}}
                tool:
                  kind: noop
                  label: "{{ item }} {{ loop_index }} {{ iter._index }} {{ iter._first }} {{ iter._last }} {{ iter.loop_event_id }}"
                  loop: "{{ loop.index }} {{ loop.first }} {{ loop.length }} {{ loop.done }}"
                input: {x: 1}
            """,
            g =>
            {
                g.Done("each", iteration: 0);
                g.Done("each", iteration: 1);
            },
            [.. Begin, "step.enter:each(2)",
             """issue:each[0] input={"x":1,"item":"a"} tool={"label":"a 0 0 True False 42:each:1","loop":"0 True 2 False"}""", "done:each",
             """issue:each[1] input={"x":1,"item":"b"} tool={"label":"b 1 1 False True 42:each:1","loop":"1 False 2 False"}""", "done:each",
             "loop.done:each", .. Completed], false);

        // 5. The entry step is executor.spec.entry_step, else the first step; no step needs to be named start.
        yield return Case("a workflow without a start step begins at its first step", """
            workflow:
              - step: load
                tool: {kind: noop}
                next: report
              - step: report
                tool: {kind: noop}
            """,
            g =>
            {
                g.Done("load");
                g.Done("report");
            },
            [.. Begin, "issue:load", "done:load", "issue:report", "done:report", .. Completed], false);

        yield return Case("executor.spec.entry_step names the entry step", """
            executor: {spec: {entry_step: report}}
            workflow:
              - step: start
                tool: {kind: noop}
                next: report
              - step: report
                tool: {kind: noop}
            """,
            g => g.Done("report"),
            [.. Begin, "issue:report", "done:report", .. Completed], false);

        // 6. A single tool with policy rules is issued as a one-task task_sequence named <step>:task_sequence.
        yield return Case("a single tool with policy rules becomes a one-task task sequence", """
            workload: {id: 4}
            workflow:
              - step: fetch
                tool:
                  kind: http
                  url: "https://example.test/{{ workload.id }}"
                  spec:
                    policy:
                      rules:
                        - when: "{{ output.http.status == 503 }}"
                          then: {do: retry, attempts: 3}
                next: after
              - step: after
                tool: {kind: noop}
                input: {status: "{{ fetch.status }}", body: "{{ fetch.body }}"}
            """,
            g =>
            {
                g.Done("fetch:task_sequence", J("""{"status": "success", "_prev": {"body": "ok"}, "results": {"fetch_task": {"body": "ok"}}, "ctx": {}}"""));
                g.Done("after");
            },
            [.. Begin,
             """issue:fetch:task_sequence tool={"tasks":[{"name":"fetch_task","kind":"http","url":"https://example.test/4","spec":{"policy":{"rules":[{"when":"{{ output.http.status == 503 }}","then":{"do":"retry","attempts":3}}]}}}]}""",
             "done:fetch:task_sequence", """issue:after input={"status":"success","body":"ok"}""", "done:after", .. Completed], false);

        // 7. A call.done whose result is a result_ref resolves to the stored mapping's keys plus data, _ref, reference, status, context.
        yield return Case("a result_ref result exposes the stored rows, _ref and data", """
            workflow:
              - step: query
                tool: {kind: postgres, command: "select 1"}
                next: after
              - step: after
                tool: {kind: noop}
                input: {count: "{{ query.rows | length }}", has_ref: "{{ query._ref is defined }}", first: "{{ query.data.rows[0] }}", ref: "{{ query._ref }}", status: "{{ query.status }}"}
            """,
            g =>
            {
                g.DoneByReference("query", O("""{"kind": "result_ref", "ref": "noetl://execution/42/result/q/1", "store": "postgres", "scope": "execution", "meta": {}}"""),
                    J("""{"rows": ["a", "b", "c"]}"""));
                g.Done("after");
            },
            [.. Begin, """issue:query tool={"command":"select 1"}""", "done:query",
             """issue:after input={"count":3,"has_ref":true,"first":"a","ref":"noetl://execution/42/result/q/1","status":"COMPLETED"}""", "done:after", .. Completed], false);

        // 8. A lone name or dotted path keeps the value it names: "02134" and the execution id stay text.
        yield return Case("a lone path keeps text that looks like a number or a boolean as text", """
            workflow:
              - step: start
                tool: {kind: noop}
                next: after
              - step: after
                tool: {kind: noop}
                input: {zip: "{{ start.zip }}", flag: "{{ start.flag }}", id: "{{ execution_id }}", sum: "{{ start.zip | int + 1 }}"}
            """,
            g =>
            {
                g.Done("start", J("""{"zip": "02134", "flag": "true"}"""));
                g.Done("after");
            },
            [.. Begin, "issue:start", "done:start", """issue:after input={"zip":"02134","flag":"true","id":"42","sum":2135}""", "done:after", .. Completed], false);
    }
}
