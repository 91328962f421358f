namespace NoEtl.Bench.Harness;

/// <summary>A target from the issue, checked against a measured value.</summary>
public sealed record TargetCheck(string Target, bool Met, string Actual);

/// <summary>The outcome of one phase of a scenario.</summary>
public sealed record Measurement(string Scenario, string Phase, double Value, string Unit)
{
    public List<(string Name, Percentiles Latency)> Latencies { get; } = [];
    public List<TargetCheck> Targets { get; } = [];

    /// <summary>Value ÷ the baseline figure named in <see cref="RatioAgainst"/>, measured in the same run.</summary>
    public double? Ratio { get; set; }
    public string? RatioAgainst { get; set; }

    public long Errors { get; set; }
    public List<string> ErrorSamples { get; } = [];
    public string? Note { get; set; }
    public PhaseResources? Resources { get; set; }

    public Measurement Latency(string name, Recorder recorder)
    {
        Latencies.Add((name, recorder.Percentiles()));
        return this;
    }

    public Measurement ErrorsOf(params Recorder[] recorders)
    {
        foreach (var recorder in recorders)
        {
            Errors += recorder.Errors;
            ErrorSamples.AddRange(recorder.ErrorSamples);
        }
        return this;
    }

    public void Fail(string message)
    {
        Errors++;
        ErrorSamples.Add(message);
    }

    public Measurement Target(string target, double actual, double bound, bool atLeast, string unit)
    {
        Targets.Add(new TargetCheck(target, atLeast ? actual >= bound : actual <= bound, $"{actual:0.##} {unit} ({actual / bound:0.00}× the target)"));
        return this;
    }
}
