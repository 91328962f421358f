using System.Text.Json.Nodes;
using NoEtl.Orchestration.Engine;

namespace NoEtl.Orchestration.Tests.Engine;

/// <summary>
/// A loop keeps its iterations' data in the log only: the engine holds the data of iterations finished since its owner
/// last forgot them (once their events were committed), and a completing loop takes the others from the log's first
/// finishing events. The results must be what a state that held every iteration's data builds.
/// </summary>
public class LoopHistoryTests
{
    private const string Header = """
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata:
          name: loop_history
          path: tests/loop_history

        """;

    private static string LongLoop(int iterations, string mode) => Header + $$$"""
        workflow:
          - step: each
            loop: {in: {{{iterations}}}, iterator: i, spec: {{{mode}}}}
            tool: {kind: noop}
            next: end
          - step: end
            tool: {kind: noop}
            input: {results: "{{ each.results }}", stats: "{{ each.stats }}"}
        """;

    [Fact]
    public void A_long_loop_holds_no_data_of_logged_iterations_and_rebuilds_ordered_results_from_the_log()
    {
        const int Iterations = 300;
        var execution = new ExecutionDriver(LongLoop(Iterations, "{mode: parallel, max_in_flight: 8}"));
        // Out of index order: always the newest open iteration first, so early indexes finish last.
        for (var open = execution.OpenIterations("each"); open.Count > 0; open = execution.OpenIterations("each"))
            execution.Done("each", new JsonObject { ["i"] = open[^1], ["square"] = open[^1] * open[^1] }, open[^1]);

        var end = execution.Commands.Single(c => c.Step == "end");
        var results = end.Input["results"]!.AsArray();
        Assert.Equal(Iterations, results.Count);
        Assert.All(results, (result, index) => Assert.Equal($$"""{"i":{{index}},"square":{{index * index}}}""", result!.ToJsonString()));
        Assert.Equal("""{"total":300,"success":300,"failed":0}""", end.Input["stats"]!.ToJsonString());
        execution.Done("end");
        Assert.Equal("COMPLETED", execution.Status);

        // The same log folded by a state that forgets after every event holds no finished iteration's data at any point.
        var forgetting = FoldForgetting(execution, out var mostHeld);
        Assert.Equal(1, mostHeld);
        Assert.Equal(0, forgetting.Step("each").Loop!.HeldResults);
        Assert.Equal(execution.State.Step("each").Result!.ToJsonString(), forgetting.Step("each").Result!.ToJsonString());
    }

    [Fact]
    public void Results_past_the_size_limit_are_cut_in_finish_order_when_they_come_back_from_the_log()
    {
        var execution = new ExecutionDriver(LongLoop(13, "{mode: parallel}"));
        var big = new string('x', 95_000); // 95,002 bytes as JSON: the twelfth to finish passes the 1 MiB limit
        foreach (var index in new[] { 11, 9, 7, 5, 3, 1, 0, 2, 4, 6, 8, 10, 12 })
            execution.Done("each", big, index);

        var results = execution.Commands.Single(c => c.Step == "end").Input["results"]!.AsArray();
        Assert.Equal([.. Enumerable.Range(0, 13).Select(index => index is not (10 or 12))], results.Select(r => r is not null));
        Assert.Equal(execution.State.Step("each").Result!.ToJsonString(), FoldForgetting(execution, out _).Step("each").Result!.ToJsonString());
    }

    [Fact]
    public void A_task_sequence_loop_writes_each_iterations_ctx_when_it_finishes_and_its_results_come_back_promoted()
    {
        var execution = new ExecutionDriver(Header + """
            workflow:
              - step: each
                loop: {in: [a, b, c], iterator: x, spec: {mode: sequential}}
                tool:
                  - {name: fetch, kind: http, url: "https://example.test/{{ x }}"}
                  - {name: shape, kind: python, code: "result = {}"}
                next: end
              - step: end
                tool: {kind: noop}
                input: {results: "{{ each.results }}", last: "{{ last }}", first: "{{ seen_0 }}"}
            """);
        for (var index = 0; index < 3; index++)
        {
            execution.Done("each", new JsonObject
            {
                ["status"] = "success",
                ["_prev"] = new JsonObject { ["rows"] = index },
                ["results"] = new JsonObject { ["fetch"] = new JsonObject { ["id"] = index } },
                ["ctx"] = new JsonObject { ["last"] = index, [$"seen_{index}"] = index },
            }, index);
        }

        var input = execution.Commands.Single(c => c.Step == "end").Input;
        Assert.Equal("2", input["last"]!.ToJsonString());
        Assert.Equal("0", input["first"]!.ToJsonString()); // every iteration's ctx was written, not only the last one's
        var results = input["results"]!.AsArray();
        Assert.Equal([0, 1, 2], results.Select(r => (int)r!["rows"]!));
        Assert.Equal([0, 1, 2], results.Select(r => (int)r!["results"]!["fetch"]!["id"]!));
        Assert.Equal(execution.State.Step("each").Result!.ToJsonString(), FoldForgetting(execution, out _).Step("each").Result!.ToJsonString());
    }

    [Fact]
    public void Only_a_call_with_enough_finishing_events_for_the_rest_of_a_loop_needs_its_history()
    {
        var execution = new ExecutionDriver(LongLoop(4, "{mode: parallel}"));
        var state = new ExecutionState(execution.Playbook);
        foreach (var e in execution.Log)
            state.Apply(e);
        var applied = execution.Log.Count;
        execution.Done("each", 0, 0);
        foreach (var e in execution.Log.Skip(applied))
            state.Apply(e);
        Assert.Empty(state.LoopsFinishableBy(3)); // nothing forgotten yet: the state holds all it needs
        state.ForgetIterationData();

        Assert.Empty(state.LoopsFinishableBy(2));
        var loop = Assert.Single(state.LoopsFinishableBy(3));
        Assert.Equal(("each", execution.Log.Single(e => e.EventType == "step.enter").EventId), (loop.Step, loop.EnteredEventId));
    }

    /// <summary>
    /// Folds the driver's log into a new state as a grain would: the history of a loop the next event may complete is
    /// handed in first, and the iterations' data is forgotten after every event. <paramref name="mostHeld"/> is the most
    /// finished iterations' data the state held at once.
    /// </summary>
    private static ExecutionState FoldForgetting(ExecutionDriver execution, out int mostHeld)
    {
        var state = new ExecutionState(execution.Playbook);
        mostHeld = 0;
        foreach (var e in execution.Log)
        {
            state.SupplyLoopHistory(state.LoopsFinishableBy(Orchestrator.IsTrigger(e.EventType) ? 1 : 0).ToDictionary(l => l.Step,
                l => (IReadOnlyList<IterationFinish>)[.. execution.IterationFinishes(l).Where(f => f.Event.EventId < e.EventId)]));
            state.Apply(e);
            mostHeld = Math.Max(mostHeld, state.Steps.Values.Sum(s => s.Loop?.HeldResults ?? 0));
            state.ForgetIterationData();
        }
        return state;
    }
}
