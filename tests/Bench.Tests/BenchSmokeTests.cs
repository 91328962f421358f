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

    /// <summary>
    /// The history mode with a reduced history (100,000 events): the reads run on empty tables, then on tables that
    /// really hold the generated rows, and the report compares the two passes.
    /// </summary>
    [Fact]
    public async Task A_history_fill_runs_the_scenarios_again_on_filled_tables()
    {
        var options = BenchOptions.Parse(["reads", "--history", "100000", "--duration", "1", "--warmup", "0.2", "--workers", "2",
            "--baseline-batch", "1", "--no-record"]);

        var outcome = await BenchRunner.RunAsync(options, output.WriteLine);
        output.WriteLine(outcome.Markdown);

        var filled = Assert.IsType<HistoryPass>(outcome.Filled);
        Assert.Equal((100_000L, 10_000L, 1_000L, 10_000L), (filled.Size.Events, filled.Size.Commands, filled.Size.Executions, filled.Size.OutboxRows));
        string[] phases = ["1 row/tx", "execution list (page 1 of 100)", "execution detail (10,000 events, page 1 of 100)"];
        Assert.Equal(phases, outcome.Results.Select(r => r.Phase));
        Assert.Equal(phases, filled.Results.Select(r => r.Phase));
        Assert.All(outcome.All, r =>
        {
            Assert.True(r.Value > 0, $"{r.Scenario} / {r.Phase}: no throughput");
            Assert.True(r.Errors == 0, $"{r.Scenario} / {r.Phase}: {r.Errors} errors: {string.Join("; ", r.ErrorSamples)}");
        });
        Assert.Contains("| reads | execution detail (10,000 events, page 1 of 100) |", outcome.Markdown);
        Assert.Contains("### After the history fill (100,000 events)", outcome.Markdown);
    }

    [Fact]
    public void The_command_line_rejects_unknown_scenarios_and_keeps_the_baseline()
    {
        Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["nope"]));
        Assert.Equal(["baseline", "flow"], BenchOptions.Parse(["flow"]).Scenarios);
        Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["reads", "--history", "999"]));
    }

    [Fact]
    public void The_command_line_takes_one_or_both_topologies()
    {
        Assert.Equal(["separate"], BenchOptions.Parse(["events"]).Hosting);
        Assert.Equal(["separate", "combined"], BenchOptions.Parse(["events", "--hosting", "separate,combined"]).Hosting);
        Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["events", "--hosting", "gateway"]));
    }
}
