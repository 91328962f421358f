using System.Text.Json.Nodes;
using NoEtl.Orchestration.Engine;

namespace NoEtl.Orchestration.Tests.Engine;

public class EngineCaseTests
{
    [Theory]
    [MemberData(nameof(EngineCases.Data), MemberType = typeof(EngineCases))]
    public void Produces_the_exact_log(EngineCase engineCase)
    {
        var grain = new GrainSimulator(engineCase.Yaml, engineCase.Payload);
        engineCase.Script(grain);
        Assert.Equal(engineCase.Trace, engineCase.Detailed ? grain.DetailedTrace() : grain.Trace());
        Assert.Equal(engineCase.Failed, grain.Completion?.Failed);
        var expectedStatus = engineCase.Failed switch
        {
            true => ExecutionStatus.Failed,
            false => ExecutionStatus.Completed,
            null => ExecutionStatus.Running,
        };
        Assert.Equal(expectedStatus, grain.State.Status);
    }

    /// <summary>Folding any prefix of the log from scratch and deciding on its last event gives the decision recorded live.</summary>
    [Theory]
    [MemberData(nameof(EngineCases.Data), MemberType = typeof(EngineCases))]
    public void Every_prefix_replays_to_the_same_decision(EngineCase engineCase)
    {
        var grain = new GrainSimulator(engineCase.Yaml, engineCase.Payload);
        engineCase.Script(grain);
        var recorded = grain.Decisions.Where(d => d.TriggerIndex >= 0).ToDictionary(d => d.TriggerIndex, d => d.Decision);
        for (var end = 0; end < grain.Log.Count; end++)
        {
            var state = new ExecutionState(grain.Playbook);
            for (var i = 0; i <= end; i++)
                state.Apply(grain.Log[i]);
            var replayed = Orchestrator.Decide(grain.Playbook, state, grain.Log[end]);
            var expected = recorded.TryGetValue(end, out var live) ? live : Decision.None;
            Assert.Equal(DecisionText.Of(expected), DecisionText.Of(replayed));
        }
    }

    /// <summary>Once a decision's emissions are in the log, deciding again on the same trigger emits nothing.</summary>
    [Theory]
    [MemberData(nameof(EngineCases.Data), MemberType = typeof(EngineCases))]
    public void Deciding_twice_is_a_no_op(EngineCase engineCase)
    {
        var grain = new GrainSimulator(engineCase.Yaml, engineCase.Payload);
        engineCase.Script(grain);
        foreach (var (triggerIndex, decision) in grain.Decisions.Where(d => d.TriggerIndex >= 0))
        {
            var applied = triggerIndex + decision.Emissions.Count;
            var state = new ExecutionState(grain.Playbook);
            for (var i = 0; i <= applied; i++)
                state.Apply(grain.Log[i]);
            Assert.Empty(Orchestrator.Decide(grain.Playbook, state, grain.Log[triggerIndex]).Emissions);
        }
    }
}

internal static class DecisionText
{
    public static string Of(Decision decision)
    {
        var json = new JsonArray();
        foreach (var emission in decision.Emissions)
        {
            json.Add(emission switch
            {
                EmitEvent e => new JsonObject
                {
                    ["event"] = e.EventType,
                    ["node"] = e.NodeName,
                    ["status"] = e.Status,
                    ["context"] = e.Context?.DeepClone(),
                    ["result"] = e.Result?.DeepClone(),
                    ["error"] = e.Error,
                    ["meta"] = e.Meta?.DeepClone(),
                },
                IssueCommand c => new JsonObject
                {
                    ["command"] = c.Step,
                    ["kind"] = c.ToolKind,
                    ["tool"] = c.ToolConfig.DeepClone(),
                    ["input"] = c.Input.DeepClone(),
                    ["context"] = c.RenderContext.DeepClone(),
                    ["spec"] = c.Spec?.DeepClone(),
                    ["meta"] = c.Meta.DeepClone(),
                },
                _ => throw new InvalidOperationException(),
            });
        }
        var completion = decision.Completion is { } done ? $"{done.Failed}:{done.Error}:{string.Join(",", done.FailedSteps)}" : "-";
        return json.ToJsonString() + completion;
    }
}
