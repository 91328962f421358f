using System.Text.Json.Nodes;
using NoEtl.Orchestration.Engine;

namespace NoEtl.Orchestration.Tests.Engine;

/// <summary>Workers finish in arbitrary orders; the outcome must not depend on the order, and every prefix must replay.</summary>
public class InterleavingTests
{
    private const string Graph = """
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata: {name: shuffle}
        workload: {round: 0}
        workflow:
          - step: start
            tool: {kind: noop}
            next:
              spec: {mode: inclusive}
              arcs: [{step: a}, {step: b}, {step: c}]
          - step: a
            tool: {kind: noop}
            next: ab
          - step: b
            tool: {kind: noop}
            next: [ab, bc]
          - step: c
            tool: {kind: noop}
            next: bc
          - step: ab
            tool: {kind: noop}
            next: final
          - step: bc
            loop: {in: [1, 2, 3, 4, 5], iterator: n, spec: {mode: parallel, max_in_flight: 2}}
            tool: {kind: noop}
            next: final
          - step: final
            tool: {kind: noop}
            set: {ctx.round: "{{ round + 1 }}"}
            next:
              arcs:
                - step: start
                  when: "{{ ctx.round < 2 }}"
        """;

    private const string NestedLoops = """
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata: {name: nested}
        workload: {i: 0}
        workflow:
          - step: start
            tool: {kind: noop}
            next: body
          - step: body
            tool: {kind: noop}
            set: {ctx.i: "{{ i + 1 }}"}
            next: [x, y]
          - step: x
            tool: {kind: noop}
            next: join
          - step: y
            tool: {kind: noop}
            next: seq
          - step: seq
            loop: {in: [a, b, c], iterator: letter}
            tool: {kind: noop}
            next: join
          - step: join
            tool: {kind: noop}
            next:
              arcs:
                - {step: body, when: "{{ i < 3 }}"}
                - {step: pick}
          - step: pick
            tool: {kind: noop}
            next:
              arcs:
                - {step: odd, when: "{{ i % 2 == 1 }}"}
                - {step: even}
          - step: odd
            tool: {kind: noop}
            next: done
          - step: even
            tool: {kind: noop}
            next: done
          - step: done
            tool: {kind: noop}
        """;

    public static IEnumerable<object[]> Seeds => Enumerable.Range(1, 25).Select(seed => new object[] { seed });

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Any_completion_order_gives_the_same_outcome(int seed)
    {
        var execution = RunShuffled(Graph, seed);
        var issuedPerStep = execution.Commands.GroupBy(c => c.Step).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(2, issuedPerStep["start"]);
        Assert.Equal(2, issuedPerStep["ab"]);
        Assert.Equal(10, issuedPerStep["bc"]);
        Assert.Equal(2, issuedPerStep["final"]);
        Assert.Equal(2L, (long?)execution.State.Variables["round"]);
        AssertLoopBudget(execution);
        execution.AssertEveryPrefixReplays();
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Nested_loops_and_branches_are_order_independent(int seed)
    {
        var execution = RunShuffled(NestedLoops, seed);
        var issuedPerStep = execution.Commands.GroupBy(c => c.Step).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(
            "body=3 done=1 join=3 odd=1 pick=1 seq=9 start=1 x=3 y=3",
            string.Join(" ", issuedPerStep.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}")));
        Assert.Single(execution.Log, e => e.EventType == "step.skipped" && e.NodeName == "even");
        Assert.Equal(3, execution.Log.Count(e => e.EventType == "step.enter" && e.NodeName == "seq"));
        execution.AssertEveryPrefixReplays();
    }

    /// <summary>Finishes a random open command each turn, by call.done or command.completed, until the execution ends.</summary>
    private static ExecutionDriver RunShuffled(string yaml, int seed)
    {
        var random = new Random(seed);
        var execution = new ExecutionDriver(yaml);
        var calledDone = new HashSet<long>();
        var completed = new HashSet<long>();
        for (var guard = 0; guard < 1000 && !execution.IsTerminal; guard++)
        {
            var open = execution.Commands.Select(c => c.CommandId).Where(id => !completed.Contains(id)).ToList();
            Assert.NotEmpty(open);
            var id = open[random.Next(open.Count)];
            if (!calledDone.Contains(id) && random.Next(3) > 0)
            {
                calledDone.Add(id);
                execution.CallDone(id);
            }
            else
            {
                completed.Add(id);
                execution.Completed(id);
            }
        }
        Assert.True(execution.Status == "COMPLETED", string.Join("\n", execution.Trace()));
        return execution;
    }

    private static void AssertLoopBudget(ExecutionDriver execution)
    {
        var inFlight = 0;
        var finished = new HashSet<long?>();
        foreach (var e in execution.Log.Where(e => e.NodeName == "bc"))
        {
            if (e.EventType == "command.issued")
                Assert.True(++inFlight <= 2, "more than max_in_flight iterations in flight");
            else if (e.EventType is "call.done" or "command.completed" && finished.Add(e.CommandId))
                inFlight--;
        }
    }
}
