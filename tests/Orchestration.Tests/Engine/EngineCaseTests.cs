using NoEtl.Orchestration.Engine;

namespace NoEtl.Orchestration.Tests.Engine;

public class EngineCaseTests
{
    [Theory]
    [MemberData(nameof(EngineCases.Data), MemberType = typeof(EngineCases))]
    public void Produces_the_exact_log(EngineCase engineCase)
    {
        var execution = new ExecutionDriver(engineCase.Yaml, engineCase.Payload);
        engineCase.Script(execution);
        Assert.Equal(engineCase.Trace, engineCase.Detailed ? execution.DetailedTrace() : execution.Trace());
        var (expectedStatus, expectedText) = engineCase.Failed switch
        {
            true => (ExecutionStatus.Failed, "FAILED"),
            false => (ExecutionStatus.Completed, "COMPLETED"),
            null => (ExecutionStatus.Running, "RUNNING"),
        };
        Assert.Equal(expectedText, execution.Status);
        Assert.Equal(expectedStatus, execution.State.Status);
    }

    /// <summary>Folding any prefix of the log from scratch and deciding on its last event gives what the aggregate wrote live.</summary>
    [Theory]
    [MemberData(nameof(EngineCases.Data), MemberType = typeof(EngineCases))]
    public void Every_prefix_replays_to_the_same_decision(EngineCase engineCase)
    {
        var execution = new ExecutionDriver(engineCase.Yaml, engineCase.Payload);
        engineCase.Script(execution);
        execution.AssertEveryPrefixReplays();
    }

    /// <summary>Once a decision's emissions are in the log, deciding again on the same trigger emits nothing.</summary>
    [Theory]
    [MemberData(nameof(EngineCases.Data), MemberType = typeof(EngineCases))]
    public void Deciding_twice_is_a_no_op(EngineCase engineCase)
    {
        var execution = new ExecutionDriver(engineCase.Yaml, engineCase.Payload);
        engineCase.Script(execution);
        foreach (var reaction in execution.Reactions)
        {
            var state = execution.Folded(reaction.TriggerIndex + reaction.Emitted.Count + 1);
            Assert.Empty(Orchestrator.Decide(execution.Playbook, state, execution.Log[reaction.TriggerIndex]).Emissions);
        }
    }
}
