using BenchmarkDotNet.Attributes;
using NoEtl.Orchestration;
using NoEtl.Orchestration.Engine;
using NoEtl.Orchestration.Playbooks;

namespace NoEtl.Engine.Benchmarks;

/// <summary>
/// The grain's per-event cost on a 20-step playbook. The log is folded once in setup, as the grain keeps its state in memory;
/// the benchmarks measure what one incoming event costs: applying it, and deciding on it when it is a trigger.
/// Three log lengths show that neither depends on how long the log already is.
/// </summary>
[MemoryDiagnoser]
public class EngineBenchmarks
{
    private const int EventsPerFold = 1000;

    private Playbook _playbook = null!;
    private ExecutionState _state = null!;
    private LoggedEvent _trigger = null!;
    private List<LoggedEvent> _log = null!;

    [Params(100, 1000, 4000)]
    public int LogLength { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _playbook = EngineLog.TwentyStepPlaybook();
        var log = new EngineLog(_playbook);
        _trigger = log.RunUntil(LogLength);
        _log = [.. log.Events, _trigger];
        _state = log.State;
        _state.Apply(_trigger);
        if (Orchestrator.Decide(_playbook, _state, _trigger).Emissions.Count == 0)
            throw new InvalidOperationException("the trigger must lead to a decision");
    }

    /// <summary>
    /// Deciding the next step after a <c>call.done</c>: routing, the step-level set when due, and rendering the next command.
    /// Decide never modifies the state, so repeating it measures the same decision every time.
    /// </summary>
    [Benchmark]
    public Decision DecideNextStep() => Orchestrator.Decide(_playbook, _state, _trigger);

    /// <summary>Folding the log into fresh state (from the top again when it runs out) until 1,000 events were applied, reported per event.</summary>
    [Benchmark(OperationsPerInvoke = EventsPerFold)]
    public ExecutionState ApplyPerEvent()
    {
        var state = new ExecutionState(_playbook);
        for (var applied = 0; applied < EventsPerFold; applied++)
        {
            var position = applied % _log.Count;
            if (position == 0 && applied > 0)
                state = new ExecutionState(_playbook);
            state.Apply(_log[position]);
        }
        return state;
    }
}
