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
        var grain = RunShuffled(Graph, seed);
        var issuedPerStep = grain.Commands.GroupBy(c => c.Step).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(2, issuedPerStep["start"]);
        Assert.Equal(2, issuedPerStep["ab"]);
        Assert.Equal(10, issuedPerStep["bc"]);
        Assert.Equal(2, issuedPerStep["final"]);
        Assert.Equal(2L, (long?)grain.State.Variables["round"]);
        AssertLoopBudget(grain);
        AssertEveryPrefixReplays(grain);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Nested_loops_and_branches_are_order_independent(int seed)
    {
        var grain = RunShuffled(NestedLoops, seed);
        var issuedPerStep = grain.Commands.GroupBy(c => c.Step).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(
            "body=3 done=1 join=3 odd=1 pick=1 seq=9 start=1 x=3 y=3",
            string.Join(" ", issuedPerStep.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}")));
        Assert.Single(grain.Log, e => e.EventType == "step.skipped" && e.NodeName == "even");
        Assert.Equal(3, grain.Log.Count(e => e.EventType == "step.enter" && e.NodeName == "seq"));
        AssertEveryPrefixReplays(grain);
    }

    /// <summary>Finishes a random open command each turn, by call.done or command.completed, until the execution ends.</summary>
    private static GrainSimulator RunShuffled(string yaml, int seed)
    {
        var random = new Random(seed);
        var grain = new GrainSimulator(yaml);
        var calledDone = new HashSet<long>();
        var completed = new HashSet<long>();
        for (var guard = 0; guard < 1000 && grain.Completion is null; guard++)
        {
            var open = grain.Issued.Select(c => c.Id).Where(id => !completed.Contains(id)).ToList();
            Assert.NotEmpty(open);
            var id = open[random.Next(open.Count)];
            if (!calledDone.Contains(id) && random.Next(3) > 0)
            {
                calledDone.Add(id);
                grain.CallDone(id);
            }
            else
            {
                completed.Add(id);
                grain.Completed(id);
            }
        }
        Assert.True(grain.Completion is not null, string.Join("\n", grain.Trace()));
        Assert.False(grain.Completion.Failed);
        return grain;
    }

    private static void AssertLoopBudget(GrainSimulator grain)
    {
        var inFlight = 0;
        var finished = new HashSet<long?>();
        foreach (var e in grain.Log.Where(e => e.NodeName == "bc"))
        {
            if (e.EventType == "command.issued")
                Assert.True(++inFlight <= 2, "more than max_in_flight iterations in flight");
            else if (e.EventType is "call.done" or "command.completed" && finished.Add(e.CommandId))
                inFlight--;
        }
    }

    private static void AssertEveryPrefixReplays(GrainSimulator grain)
    {
        var recorded = grain.Decisions.Where(d => d.TriggerIndex >= 0).ToDictionary(d => d.TriggerIndex, d => d.Decision);
        for (var end = 0; end < grain.Log.Count; end++)
        {
            var fresh = new ExecutionState(grain.Playbook);
            for (var i = 0; i <= end; i++)
                fresh.Apply(grain.Log[i]);
            var expected = DecisionText.Of(recorded.TryGetValue(end, out var live) ? live : Decision.None);
            Assert.Equal(expected, DecisionText.Of(Orchestrator.Decide(grain.Playbook, fresh, grain.Log[end])));
        }
    }
}
