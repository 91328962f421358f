namespace NoEtl.Bench.Scenarios;

/// <summary>The playbooks the scenarios run. Tools are <c>noop</c>: the simulated workers never execute anything.</summary>
public static class Playbooks
{
    public const string OneStep = "bench/one_step";
    public const string FanOut = "bench/fan_out";
    public const string FiveSteps = "bench/five_steps";
    public const string LongLoop = "bench/long_loop";
    public const string LongLoopLastStep = "last";

    /// <summary>Commands per fan-out execution: pre-issuing thousands of commands takes a few dozen executions.</summary>
    public const int FanOutWidth = 100;

    public static readonly string[] FiveStepNames = ["start", "s2", "s3", "s4", "s5"];

    public static string OneStepYaml => Header(OneStep) + """
        workflow:
          - step: start
            tool: {kind: noop}
        """;

    /// <summary>A parallel loop in the start step: one execute issues <see cref="FanOutWidth"/> commands in one transaction.</summary>
    public static string FanOutYaml => Header(FanOut) + $$"""
        workflow:
          - step: start
            loop:
              in: [{{string.Join(", ", Enumerable.Range(0, FanOutWidth))}}]
              iterator: n
              spec: {mode: parallel}
            tool: {kind: noop}
        """;

    public static string FiveStepsYaml => Header(FiveSteps) + "workflow:\n" + string.Concat(FiveStepNames.Select((step, i) =>
        $"  - step: {step}\n    tool: {{kind: noop}}\n" + (i + 1 < FiveStepNames.Length ? $"    next: {{arcs: [{{step: {FiveStepNames[i + 1]}}}]}}\n" : "")));

    /// <summary>A loop over <paramref name="iterations"/> items, 8 in flight, then a last step once the loop is done.</summary>
    public static string LongLoopYaml(int iterations) => Header(LongLoop) + $$$"""
        workflow:
          - step: start
            loop:
              in: [{{{string.Join(", ", Enumerable.Range(0, iterations))}}}]
              iterator: n
              spec: {mode: parallel, max_in_flight: 8}
            tool: {kind: noop}
            next: {arcs: [{step: {{{LongLoopLastStep}}}, when: "{{ event.name == 'loop.done' }}"}]}
          - step: {{{LongLoopLastStep}}}
            tool: {kind: noop}
        """;

    private static string Header(string path) => $$"""
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata: {name: {{path.Replace('/', '_')}}, path: {{path}}}

        """;
}
