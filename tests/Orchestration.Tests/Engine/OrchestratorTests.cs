using System.Text.Json.Nodes;
using NoEtl.Orchestration.Engine;
using NoEtl.Orchestration.Playbooks;
using NoEtl.Orchestration.Templates;

namespace NoEtl.Orchestration.Tests.Engine;

public class OrchestratorTests
{
    private const string Header = """
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata:
          name: demo
          path: tests/demo

        """;

    private static JsonNode J(string json) => JsonNode.Parse(json)!;

    private static Playbook Parse(string yaml) => Playbook.Parse(PlaybookDocument.LoadYaml(yaml)).Playbook!;

    [Theory]
    [InlineData("call.done", true)]
    [InlineData("call.error", true)]
    [InlineData("step.exit", true)]
    [InlineData("command.completed", true)]
    [InlineData("command.failed", true)]
    [InlineData("command.issued", false)]
    [InlineData("command.claimed", false)]
    [InlineData("command.started", false)]
    [InlineData("step.enter", false)]
    [InlineData("ctx.updated", false)]
    public void IsTrigger_matches_the_worker_outcomes(string eventType, bool expected) =>
        Assert.Equal(expected, Orchestrator.IsTrigger(eventType));

    [Fact]
    public void Start_emits_initialization_then_the_start_command()
    {
        var pb = Parse(Header + """
            workload:
              db: {host: localhost, port: 5432}
              limit: 10
            workflow:
              - step: start
                tool: {kind: postgres, query: "select {{ limit }}", auth: "{{ keychain.pg }}"}
                input: {host: "{{ db.host }}"}
                spec: {timeout: 30}
            """);
        var decision = Orchestrator.Start(pb, 42, 7, "tests/demo", 3, (JsonObject)J("""{"db": {"port": 6543}, "extra": true}"""), 9);

        Assert.Null(decision.Completion);
        Assert.Equal(3, decision.Emissions.Count);
        var initialized = Assert.IsType<EmitEvent>(decision.Emissions[0]);
        Assert.Equal(("playbook.initialized", "tests/demo", "initialized"), (initialized.EventType, initialized.NodeName, initialized.Status));
        Assert.Equal(
            """{"workload":{"db":{"host":"localhost","port":6543},"limit":10,"extra":true},"playbook_path":"tests/demo","catalog_id":"7","execution_id":"42","version":3,"parent_execution_id":"9"}""",
            initialized.Context!.ToJsonString());
        var workflow = Assert.IsType<EmitEvent>(decision.Emissions[1]);
        Assert.Equal(("workflow.initialized", "workflow", "initialized"), (workflow.EventType, workflow.NodeName, workflow.Status));
        Assert.Equal("""{"status":"initialized","context":{"first_step":"start"}}""", workflow.Result!.ToJsonString());

        var command = Assert.IsType<IssueCommand>(decision.Emissions[2]);
        Assert.Equal("start", command.Step);
        Assert.Equal("postgres", command.ToolKind);
        Assert.Equal("""{"kind":"postgres","query":"select 10","auth":"{{ keychain.pg }}"}""", command.ToolConfig.ToJsonString());
        Assert.Equal("""{"host":"localhost"}""", command.Input.ToJsonString());
        Assert.Equal("""{"timeout":30}""", command.Spec!.ToJsonString());
        Assert.Empty(command.Meta);
        Assert.Equal("42", (string?)command.RenderContext["execution_id"]);
        Assert.Equal("7", (string?)command.RenderContext["catalog_id"]);
        Assert.Equal(10, (long?)command.RenderContext["limit"]);
        Assert.Equal(6543, (long?)command.RenderContext["workload"]!["db"]!["port"]);
    }

    [Fact]
    public void Start_with_a_loop_step_emits_step_enter_and_iterations()
    {
        var pb = Parse(Header + """
            workflow:
              - step: start
                loop: {in: [x, y], iterator: letter, spec: {mode: parallel}}
                tool: {kind: noop, value: "{{ letter }}-{{ iter._index }}"}
                input: {pos: "{{ loop_index }}/{{ loop.length }}", last: "{{ iter._last }}"}
            """);
        var decision = Orchestrator.Start(pb, 1, 2, "p", 1, [], null);

        var enter = Assert.IsType<EmitEvent>(decision.Emissions[2]);
        Assert.Equal("step.enter", enter.EventType);
        Assert.Equal(2, (int?)enter.Context!["iterations_expected"]);
        Assert.Equal("letter", (string?)enter.Context["iterator_var"]);
        var commands = decision.Emissions.OfType<IssueCommand>().ToList();
        Assert.Equal(2, commands.Count);
        Assert.Equal("""{"kind":"noop","value":"y-1"}""", commands[1].ToolConfig.ToJsonString());
        // NoETL's iteration bindings; only the iterator is merged into the input, not _index/_total.
        Assert.Equal("""{"pos":"1/2","last":true,"letter":"y"}""", commands[1].Input.ToJsonString());
        Assert.Equal("""{"loop_step":"start","iteration_index":1,"iteration_total":2,"iterator":"letter"}""", commands[1].Meta.ToJsonString());
        Assert.Equal("""{"letter":"y","_index":1,"_first":false,"_last":true,"loop_event_id":"1:start:1"}""",
            commands[1].RenderContext["iter"]!.ToJsonString());
        Assert.Equal("""{"index":1,"first":false,"length":2,"done":false}""", commands[1].RenderContext["loop"]!.ToJsonString());
        Assert.Equal("y", (string?)commands[1].RenderContext["letter"]);
        Assert.Equal(1, (int?)commands[1].RenderContext["loop_index"]);
        Assert.Equal("1:start:1", (string?)enter.Context["loop_event_id"]);
    }

    [Fact]
    public void Start_with_an_empty_loop_completes_the_execution()
    {
        var pb = Parse(Header + """
            workflow:
              - step: start
                loop: {in: [], iterator: x}
                tool: {kind: noop}
            """);
        var decision = Orchestrator.Start(pb, 1, 2, "p", 1, [], null);

        Assert.Equal(
            ["playbook.initialized", "workflow.initialized", "step.enter", "step.exit", "loop.done", "workflow.completed", "playbook.completed"],
            decision.Emissions.Cast<EmitEvent>().Select(e => e.EventType));
        Assert.False(decision.Completion!.Failed);
        var completed = (EmitEvent)decision.Emissions[^1];
        Assert.Equal(("p", "completed"), (completed.NodeName, completed.Status));
    }

    [Fact]
    public void Start_render_error_fails_after_initialization()
    {
        var pb = Parse(Header + """
            workflow:
              - step: start
                tool: {kind: noop, x: "{{ 1 // 0 }}"}
            """);
        var decision = Orchestrator.Start(pb, 1, 2, "p", 1, [], null);

        Assert.Equal(
            ["playbook.initialized", "workflow.initialized", "workflow.failed", "playbook.failed"],
            decision.Emissions.Cast<EmitEvent>().Select(e => e.EventType));
        Assert.True(decision.Completion!.Failed);
        Assert.Equal(["start"], decision.Completion.FailedSteps);
        Assert.StartsWith("step 'start': template error: division by zero", decision.Completion.Error);
        Assert.Equal(decision.Completion.Error, ((EmitEvent)decision.Emissions[^1]).Error);
        Assert.Equal("""{"status":"failed"}""", ((EmitEvent)decision.Emissions[^1]).Result!.ToJsonString());
    }

    [Fact]
    public void A_template_over_its_budget_fails_the_execution_like_any_template_error()
    {
        // "x" * 2147483648 threw ArgumentOutOfRangeException, which escaped the engine instead of failing the step.
        var pb = Parse(Header + """
            workflow:
              - step: start
                tool: {kind: noop, x: "{{ 'x' * 2147483648 }}"}
            """);
        var decision = Orchestrator.Start(pb, 1, 2, "p", 1, [], null);
        Assert.True(decision.Completion!.Failed);
        Assert.StartsWith("step 'start': template error: template output longer than 1048576 characters", decision.Completion.Error);

        var modest = Parse(Header + """
            workflow:
              - step: start
                tool: {kind: noop, x: "{{ 'x' * 11 }}"}
            """);
        Assert.False(Orchestrator.Start(modest, 1, 2, "p", 1, [], null).Completion?.Failed ?? false);
        var tight = Orchestrator.Start(modest, 1, 2, "p", 1, [], null, new PlaybookLimits { Templates = new TemplateLimits { MaxOutputLength = 10 } });
        Assert.StartsWith("step 'start': template error: template output longer than 10 characters", tight.Completion!.Error);
    }

    [Fact]
    public void Second_command_input_is_rendered_from_the_first_result()
    {
        var execution = new ExecutionDriver(EngineCases.All[0].Yaml);
        execution.Done("start", J("""{"value": 5}"""));

        var second = execution.Commands.Single(c => c.Step == "second");
        Assert.Equal("""{"total":15}""", second.Input.ToJsonString());
        Assert.Equal(5, (long?)second.RenderContext["start"]!["value"]);
        Assert.Equal(5, (long?)second.RenderContext["start"]!["data"]!["value"]);
        Assert.Equal("""{"status":"COMPLETED","context":{"data":{"value":5}}}""", second.RenderContext["steps"]!["start"]!.ToJsonString());
    }

    [Fact]
    public void Failure_completion_lists_failed_steps()
    {
        var execution = new ExecutionDriver(EngineCases.All.Single(c => c.Name.StartsWith("failure waits")).Yaml);
        execution.Done("start");
        Assert.Empty(execution.Error("a").Emitted);
        var final = execution.Done("b");

        var outcome = final.Emitted[^1];
        Assert.Equal(("playbook.failed", "Failed steps: a"), (outcome.EventType, outcome.Error));
        Assert.Equal("FAILED", execution.Status);
        Assert.Equal(["a"], execution.State.FailedSteps);
        Assert.Equal("boom", execution.State.Step("a").Error);
        Assert.Equal("Failed steps: a", execution.State.Error);
    }

    [Fact]
    public void Sequential_loop_never_has_two_iterations_in_flight_and_collects_results_in_order()
    {
        var execution = new ExecutionDriver(EngineCases.All.Single(c => c.Name.StartsWith("sequential loop dispatches")).Yaml);
        execution.Done("start");
        Assert.Equal("""{"kind":"noop","result":"Oslo"}""", execution.Commands.Last().ToolConfig.ToJsonString());
        execution.Done("visit", J("\"OSLO\""));
        Assert.Equal("""{"kind":"noop","result":"Lima"}""", execution.Commands.Last().ToolConfig.ToJsonString());
        execution.Done("visit", J("\"LIMA\""));
        execution.Done("visit", J("\"PUNE\""));

        Assert.Equal(1, MaxInFlight(execution, "visit"));
        Assert.Equal("""{"visited":["OSLO","LIMA","PUNE"]}""", execution.Commands.Last().Input.ToJsonString());
        // Finished iterations leave no command state behind; plain steps' commands stay.
        Assert.DoesNotContain(execution.State.Commands.Values, c => c.IterationIndex is not null);
        Assert.Contains(execution.State.Commands.Values, c => c.Step == "start");
    }

    [Fact]
    public void Parallel_loop_keeps_at_most_two_in_flight_and_orders_results_by_index()
    {
        var engineCase = EngineCases.All.Single(c => c.Name.StartsWith("parallel loop honours"));
        var execution = new ExecutionDriver(engineCase.Yaml);
        engineCase.Script(execution);

        Assert.Equal(2, MaxInFlight(execution, "start"));
        var after = execution.Commands.Single(c => c.Step == "after");
        Assert.Equal("""{"squares":[10,11,12,13,14]}""", after.Input.ToJsonString());
    }

    private static int MaxInFlight(ExecutionDriver execution, string step)
    {
        int inFlight = 0, max = 0;
        foreach (var e in execution.Log.Where(e => e.NodeName == step))
        {
            if (e.EventType == "command.issued")
                max = Math.Max(max, ++inFlight);
            else if (e.EventType is "call.done" or "call.error")
                inFlight--;
        }
        return max;
    }

    [Fact]
    public void Loop_over_a_mapping_yields_key_value_pairs()
    {
        var execution = new ExecutionDriver(Header + """
            workload:
              sizes: {s: 1, m: 2}
            workflow:
              - step: start
                loop: {in: "{{ sizes }}", iterator: size}
                tool: {kind: noop, label: "{{ size.key }}={{ size.value }}"}
            """);
        Assert.Equal("""{"kind":"noop","label":"s=1"}""", execution.Commands[0].ToolConfig.ToJsonString());
        execution.Done("start");
        Assert.Equal("""{"kind":"noop","label":"m=2"}""", execution.Commands[1].ToolConfig.ToJsonString());
    }

    [Theory]
    [InlineData("2147483647", 2147483647)]
    [InlineData("\"{{ 2147483647 }}\"", 2147483647)]
    [InlineData("\"{{ 9223372036854775807 }}\"", 9223372036854775807)]
    [InlineData("\"{{ workload.huge }}\"", 100_001)]
    public void A_loop_past_the_item_limit_fails_the_execution_before_building_its_items(string inExpression, long count)
    {
        // A count of 2^31-1 used to be materialized as 2 billion JSON nodes: the silo ran out of memory.
        var huge = new JsonArray(Enumerable.Range(0, 100_001).Select(i => (JsonNode)i).ToArray());
        var execution = new ExecutionDriver(Header + $$$"""
            workflow:
              - step: start
                tool: {kind: noop}
                next: [{step: fan}]
              - step: fan
                loop: {in: {{{inExpression}}}, iterator: v}
                tool: {kind: noop}
            """, new JsonObject { ["huge"] = huge });
        var reaction = execution.Done("start");

        var outcome = reaction.Emitted[^1];
        Assert.Equal("playbook.failed", outcome.EventType);
        Assert.Equal($"loop step 'fan': loop.in has {count} items, more than the limit of 100000", outcome.Error);
        Assert.DoesNotContain(reaction.Emitted, e => e.EventType == "command.issued");
        Assert.Equal(ExecutionStatus.Failed, execution.State.Status);
        Assert.Equal("FAILED", execution.Status);
    }

    [Theory]
    [InlineData("[a, b, c]", true)]
    [InlineData("\"a,b,c,d\"", false)]
    [InlineData("\"[1, 2, 3, 4]\"", false)]
    [InlineData("{a: 1, b: 2, c: 3, d: 4}", false)]
    [InlineData("\"{{ 3 }}\"", true)]
    [InlineData("\"{{ 4 }}\"", false)]
    public void The_loop_item_limit_applies_to_every_kind_of_collection(string inExpression, bool accepted)
    {
        var execution = new ExecutionDriver(Header + $$$"""
            workflow:
              - step: start
                loop: {in: {{{inExpression}}}, iterator: v, spec: {mode: parallel}}
                tool: {kind: noop}
            """, limits: new PlaybookLimits { MaxLoopItems = 3 });
        Assert.Equal(accepted, !execution.IsTerminal);
        if (!accepted)
            Assert.Equal("loop step 'start': loop.in has 4 items, more than the limit of 3", execution.Outcome!.Error);
    }

    [Theory]
    [InlineData("\"a, b,c\"", """["a","b","c"]""")]
    [InlineData("\"[1, 2]\"", "[1,2]")]
    [InlineData("\"{{ 'x\\ny' }}\"", """["x","y"]""")]
    [InlineData("\"{{ 2 }}\"", "[0,1]")]
    public void Loop_collections_are_coerced_like_the_rust_engine(string inExpression, string expectedItems)
    {
        var execution = new ExecutionDriver(Header + $$$"""
            workflow:
              - step: start
                loop: {in: {{{inExpression}}}, iterator: v, spec: {mode: parallel}}
                tool: {kind: noop}
            """);
        var enter = execution.Log.Single(e => e.EventType == "step.enter");
        Assert.Equal(expectedItems, enter.Context!["items"]!.ToJsonString());
    }

    [Fact]
    public void Loop_step_arcs_see_loop_done_and_NoETLs_results_and_stats()
    {
        var execution = new ExecutionDriver(Header + """
            workflow:
              - step: start
                loop: {in: [1, 2], iterator: n}
                tool: {kind: noop}
                next:
                  arcs:
                    - step: summary
                      when: "{{ event.name == 'loop.done' and output.results | length == 2 and output.stats.success == 2 }}"
              - step: summary
                tool: {kind: noop}
            """);
        execution.Done("start", J("1"));
        execution.Done("start", J("2"));
        Assert.Equal("summary", execution.Commands.Last().Step);
        const string Shape = """{"results":[1,2],"stats":{"total":2,"success":2,"failed":0}""";
        Assert.Equal(Shape + ""","context":""" + Shape + "}}", execution.State.Step("start").Result!.ToJsonString());
        // loop.done carries the loop result before the arcs run.
        var loopDone = execution.Log.Single(e => e.EventType == "loop.done");
        Assert.Equal(execution.State.Step("start").Result!.ToJsonString(), loopDone.Context!["result"]!.ToJsonString());
    }

    [Fact]
    public void Pipeline_becomes_a_task_sequence_with_worker_rendered_fields()
    {
        var execution = new ExecutionDriver(Header + """
            workload:
              url: https://api.test
            workflow:
              - step: start
                tool:
                  - name: fetch
                    kind: http
                    url: "{{ url }}/items"
                    input: {page: "{{ page }}"}
                    set: {ctx.n: "{{ output.data.count }}"}
                  - store:
                      kind: postgres
                      command: "insert {{ fetch.rows }}"
                      auth: "{{ keychain.pg }}"
            """);
        var command = execution.Commands.Single();
        Assert.Equal("task_sequence", command.ToolKind);
        Assert.Equal(
            """{"kind":"task_sequence","tasks":[{"name":"fetch","kind":"http","url":"https://api.test/items","input":{"page":"{{ page }}"},"set":{"ctx.n":"{{ output.data.count }}"}},{"kind":"postgres","command":"insert {{ fetch.rows }}","auth":"{{ keychain.pg }}","name":"store"}]}""",
            command.ToolConfig.ToJsonString());
    }

    [Fact]
    public void Workbook_reference_is_resolved_into_the_command()
    {
        var execution = new ExecutionDriver(Header + """
            workbook:
              - name: greet
                tool: {kind: python, code: "print(1)", input: {greeting: hi, name: base}}
            workflow:
              - step: start
                tool: {kind: workbook, name: greet, input: {name: "{{ who }}"}}
            """, (JsonObject)J("""{"who": "ada"}"""));
        var command = execution.Commands.Single();
        Assert.Equal("python", command.ToolKind);
        Assert.Equal("""{"kind":"python","code":"print(1)","input":{"greeting":"hi","name":"ada"}}""", command.ToolConfig.ToJsonString());
    }

    [Fact]
    public void Step_set_is_applied_once_per_completion_and_visible_as_variables()
    {
        var engineCase = EngineCases.All.Single(c => c.Name.StartsWith("counter loop"));
        var execution = new ExecutionDriver(engineCase.Yaml);
        engineCase.Script(execution);

        Assert.Equal(3, execution.Log.Count(e => e.EventType == "ctx.updated" && e.NodeName == "body"));
        Assert.Equal(3, (long?)execution.State.Variables["i"]);
        Assert.Equal([0L, 1L, 2L], execution.Commands.Where(c => c.Step == "body").Select(c => (long)c.Input["i"]!));
        Assert.Equal(3, (int?)execution.Log.Last(e => e.EventType == "ctx.updated").Context!["gen"]);
    }

    [Fact]
    public void Cancelled_execution_decides_nothing()
    {
        var execution = new ExecutionDriver(EngineCases.All[0].Yaml);
        execution.Cancel();
        Assert.Equal(ExecutionStatus.Cancelled, execution.State.Status);
        // The worker that claimed `start` before the cancel still reports it: the event is stored, nothing is decided.
        Assert.Empty(execution.Done("start").Emitted);
        Assert.Equal("CANCELLED", execution.Status);
    }

    [Fact]
    public void Events_after_completion_decide_nothing()
    {
        var execution = new ExecutionDriver(Header + """
            workflow:
              - step: start
                tool: {kind: noop}
            """);
        Assert.Equal("playbook.completed", execution.Done("start").Emitted[^1].EventType);
        Assert.Empty(execution.Completed(execution.CommandOf("start")).Emitted);
        Assert.Equal(ExecutionStatus.Completed, execution.State.Status);
    }

    [Fact]
    public void State_exposes_progress_for_the_status_page()
    {
        var execution = new ExecutionDriver(EngineCases.All[0].Yaml, (JsonObject)J("""{"base": 1}"""));
        execution.Done("start", J("""{"value": 5}"""));

        Assert.Equal(42, execution.State.ExecutionId);
        Assert.Equal(7, execution.State.CatalogId);
        Assert.Equal("tests/demo", execution.State.Path);
        Assert.Equal(1, (long?)execution.State.Workload["base"]);
        Assert.Equal("second", execution.State.CurrentStep);
        Assert.Equal(["start"], execution.State.CompletedSteps);
        Assert.Equal(StepStatus.Running, execution.State.Step("second").Status);
        Assert.Equal(CommandOutcome.Succeeded, execution.State.Commands[execution.CommandOf("start")].Outcome);
        Assert.Equal(CommandOutcome.Pending, execution.State.Commands[execution.CommandOf("second")].Outcome);
        Assert.Equal(ExecutionStatus.Running, execution.State.Status);
    }

    [Theory]
    [InlineData("""{"command_id": 1, "result": {"status": "ok", "context": {"data": {"a": 1}}}}""", """{"a":1}""")]
    [InlineData("""{"command_id": 1, "result": {"status": "ok", "context": {"result": {"context": {"data": [1]}}}}}""", "[1]")]
    [InlineData("""{"command_id": 1, "result": {"status": "ok", "context": {"rows": 2}}}""", """{"rows":2}""")]
    [InlineData("""{"command_id": 1, "response": {"x": true}}""", """{"x":true}""")]
    [InlineData("""{"command_id": 1, "result": 7}""", "7")]
    public void Call_done_payloads_unwrap_to_user_data(string payload, string expected)
    {
        var e = new LoggedEvent(1, "call.done", "s", "COMPLETED", (JsonObject)J(payload), null, null, 1, null);
        Assert.Equal(expected, ExecutionState.UserData(e)!.ToJsonString());
    }

    [Fact]
    public void Deep_merge_overlays_nested_objects()
    {
        var merged = Orchestrator.DeepMerge((JsonObject)J("""{"a": {"b": 1, "c": 2}, "d": [1]}"""), (JsonObject)J("""{"a": {"c": 3}, "d": [2], "e": null}"""));
        Assert.Equal("""{"a":{"b":1,"c":3},"d":[2],"e":null}""", merged.ToJsonString());
    }
}
