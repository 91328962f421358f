using System.Globalization;
using System.Text.RegularExpressions;
using NoEtl.Bench.Harness;
using NoEtl.Bench.Scenarios;
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
            // Rates and latencies are positive when the phase did its work; a memory growth may be zero or negative
            // (a tiny run's growth is within the heap's noise), so it only has to be a number.
            if (r.Unit.StartsWith("KB", StringComparison.Ordinal))
                Assert.True(double.IsFinite(r.Value), $"{r.Scenario} / {r.Phase}: no memory figure");
            else
                Assert.True(r.Value > 0, $"{r.Scenario} / {r.Phase}: no throughput");
            Assert.True(r.Errors == 0, $"{r.Scenario} / {r.Phase}: {r.Errors} errors: {string.Join("; ", r.ErrorSamples)}");
            Assert.All(r.Latencies, l => Assert.True(l.Latency.Count > 0, $"{r.Scenario} / {r.Phase}: no {l.Name} samples"));
            Assert.True(r.Resources!.ServerConnectionsMax <= r.Resources.SiloConnectionBound, $"{r.Scenario} / {r.Phase}: silo connections over the pool");
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

    /// <summary>
    /// Two silos behind the gateway, with the chart's fast-failover settings: both silos' CPU is the "silo" figure and
    /// every phase reports the membership check passing.
    /// </summary>
    [Fact]
    public async Task Several_silos_run_with_the_fast_failover_settings_and_none_is_declared_dead()
    {
        var options = BenchOptions.Parse(["events", "--silos", "2", "--duration", "1", "--warmup", "0.5", "--workers", "4", "--baseline-batch", "1",
            "--event-batch", "1", "--no-record"]);

        var outcome = await BenchRunner.RunAsync(options, output.WriteLine);
        output.WriteLine(outcome.Markdown);

        Assert.Equal(["1 row/tx", "1 event/request"], outcome.Results.Select(r => r.Phase));
        Assert.All(outcome.Results, r =>
        {
            Assert.True(r.Errors == 0, $"{r.Scenario} / {r.Phase}: {r.Errors} errors: {string.Join("; ", r.ErrorSamples)}");
            Assert.Equal([], r.Resources!.DeadSilos!);
            Assert.Equal(2 * options.PoolSize, r.Resources.SiloConnectionBound);
            Assert.Contains(new TargetCheck(ScenarioContext.NoDeadSilo, true, "0 of 2 silos dead"), r.Targets);
        });
        Assert.Contains(outcome.Results[1].Resources!.Cpu, c => c.Group == "silo");
        Assert.Contains("--silos 2`", outcome.Markdown);
        Assert.Contains("silo.membership.probeTimeoutSeconds=", outcome.Markdown);
        Assert.Contains($"✅ {ScenarioContext.NoDeadSilo}: 0 of 2 silos dead", outcome.Markdown);
    }

    /// <summary>A silo declared dead under load heads the report, as well as failing its phase's check.</summary>
    [Fact]
    public void A_silo_declared_dead_heads_the_report()
    {
        var machine = new MachineInfo(2, "cpu", "1 GiB", "os", ".NET", "15", new Dictionary<string, string> { ["synchronous_commit"] = "on", ["fsync"] = "on" });
        var options = BenchOptions.Parse(["events", "--silos", "2"]);
        Measurement Phase(string phase, IReadOnlyList<string> dead) => new("events", phase, 100, "events/s")
        {
            Resources = new PhaseResources(5, 40, new Dictionary<string, int>(), [], new DatabaseWork(0, 0, 0), 1, dead),
        };

        var markdown = Report.Markdown(machine, options, [Phase("first", []), Phase("second", ["127.0.0.1:40001 (generation 7)"])], null, DateTime.UtcNow,
            fastFailover: null);

        Assert.Contains("**FALSE DEATH DECLARATION: 1 silo(s) declared dead by the end of events / second (127.0.0.1:40001 (generation 7))", markdown);
    }

    /// <summary>The bench's map of the chart's values to variables is the one the chart's templates apply.</summary>
    [Fact]
    public void The_fast_failover_settings_are_the_charts()
    {
        var failover = HelmFastFailover.Read();
        foreach (var (values, template) in new[] { (HelmFastFailover.SiloValues, "silo.yaml"), (HelmFastFailover.GatewayValues, "gateway.yaml") })
        {
            var text = File.ReadAllText(Path.Combine(HelmFastFailover.ChartDirectory, "templates", template));
            foreach (var (path, variable) in values)
                Assert.Matches($@"- name: {variable}\s+value: \{{\{{ \.Values\.{Regex.Escape(path)} \| quote \}}\}}", text);
        }
        // Numbers as the processes parse them: whole seconds for the silo; the gateway-list refresh takes fractions.
        Assert.All(failover.Silo.Values, v => Assert.True(int.TryParse(v, out _), v));
        Assert.All(failover.Gateway.Values, v => Assert.True(double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out _), v));
    }

    [Fact]
    public void The_command_line_takes_several_silos_with_a_gateway_of_its_own_only()
    {
        Assert.Equal(1, BenchOptions.Parse(["events"]).Silos);
        Assert.Equal(3, BenchOptions.Parse(["events", "--silos", "3"]).Silos);
        Assert.Contains("combined", Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["events", "--silos", "2", "--hosting", "separate,combined"])).Message);
        Assert.Contains("--target", Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["events", "--silos", "2", "--target", "http://127.0.0.1:8082",
            "--internal-token", "t", "--admin-dsn", "Host=127.0.0.1"])).Message);
        Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["events", "--silos", "0"]));
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
