using Xunit.Abstractions;

namespace NoEtl.Bench.Tests;

/// <summary>
/// Keeps the benchmark program working: every scenario, tiny N, a couple of seconds each, against a system the
/// program starts itself. Figures are not checked against targets (the test machine is busy); only that each
/// phase measured something and nothing failed. Nothing is appended to docs/benchmarks.md.
/// </summary>
public sealed class BenchSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Every_scenario_reports_figures_and_no_errors()
    {
        var options = BenchOptions.Parse(["all", "--duration", "2", "--warmup", "0.5", "--workers", "4", "--baseline-batch", "1,10",
            "--event-batch", "1,5", "--inflight", "2", "--memory-executions", "20", "--loop-iterations", "40", "--no-record"]);

        var outcome = await BenchRunner.RunAsync(options, output.WriteLine);
        output.WriteLine(outcome.Markdown);

        Assert.Equal(BenchOptions.AllScenarios, outcome.Results.Select(r => r.Scenario).Distinct());
        Assert.All(outcome.Results, r =>
        {
            Assert.True(r.Value > 0, $"{r.Scenario} / {r.Phase}: no throughput");
            Assert.True(r.Errors == 0, $"{r.Scenario} / {r.Phase}: {r.Errors} errors: {string.Join("; ", r.ErrorSamples)}");
            Assert.All(r.Latencies, l => Assert.True(l.Latency.Count > 0, $"{r.Scenario} / {r.Phase}: no {l.Name} samples"));
            Assert.True(r.Resources!.ServerConnectionsMax <= r.Resources.PoolSize, $"{r.Scenario} / {r.Phase}: silo connections over the pool");
        });
        Assert.Contains("| events | 1 event/request |", outcome.Markdown);
        Assert.Null(outcome.RecordedTo);
    }

    [Fact]
    public void The_command_line_rejects_unknown_scenarios_and_keeps_the_baseline()
    {
        Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["nope"]));
        Assert.Equal(["baseline", "flow"], BenchOptions.Parse(["flow"]).Scenarios);
    }

    [Fact]
    public void The_command_line_takes_one_or_both_topologies()
    {
        Assert.Equal(["separate"], BenchOptions.Parse(["events"]).Hosting);
        Assert.Equal(["separate", "combined"], BenchOptions.Parse(["events", "--hosting", "separate,combined"]).Hosting);
        Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["events", "--hosting", "gateway"]));
    }
}
