using System.Globalization;
using System.Text.Json;
using NoEtl.Integration.Tests.Faults;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests.Partition;

/// <summary>
/// One rig scenario's figures. Recovery is measured against the surviving silos' own steady rate (the last
/// <see cref="PartitionRun.SteadyWindow"/> of the load), from the fault to the start of the first 1 s window back
/// to 95 % of it. Client p99: the simulated workers' calls started between the fault and recovery (at least
/// <see cref="PartitionRun.FaultWindow"/>), failed calls counted with the time their worker waited.
/// </summary>
public sealed record PartitionReport(
    string Scenario, LedgerResult Ledger, double TotalSeconds, double? RecoverySeconds, double Before, double During, double After,
    double SurvivorsRate, double ClientP99Milliseconds, double ClientP99BeforeMilliseconds, int ClientErrors, int MaxSiloConnections,
    int SiloConnectionBound, long SilosDeclaredDead)
{
    public string Row() => string.Create(CultureInfo.InvariantCulture,
        $"| {Scenario} | {Ledger.Completed}/{Ledger.Executions} | {Ledger.Lost} / {Ledger.DuplicatedEffects} / {Ledger.Stuck} | " +
        $"{(RecoverySeconds is { } r ? $"{r:0.0} s" : "n/a")} | {Before:0} / {During:0} / {After:0} (survivors {SurvivorsRate:0}) | " +
        $"{ClientP99BeforeMilliseconds / 1000:0.00} s / {ClientP99Milliseconds / 1000:0.00} s | {ClientErrors} | {SilosDeclaredDead} | " +
        $"{MaxSiloConnections} ≤ {SiloConnectionBound} | {TotalSeconds:0} s |");

    public const string Header =
        "| scenario | completed | lost / duplicated / stuck | recovery | commands/s before / during / after | client p99 before / during fault | client errors | silos declared dead | max silo PG connections ≤ bound | duration |\n" +
        "|---|---|---|---|---|---|---|---|---|---|";
}

/// <summary>
/// Work of a scenario beside the load: <see cref="PrepareAsync"/> runs <see cref="Lead"/> before the fault, and
/// <see cref="SettleAsync"/> once the load is over; it waits for the scenario's own work and answers its executions,
/// which the ledger then checks with the load's.
/// </summary>
public interface IScenarioWork
{
    TimeSpan Lead { get; }

    Task PrepareAsync();

    Task<IReadOnlyList<long>> SettleAsync();
}

/// <summary>
/// Runs one scenario on the rig under a time-based load (simulated workers starting executions for a fixed
/// duration, after a warm-up), injects the fault after <c>faultAfter</c>, lets the work drain, then checks the ledger.
/// </summary>
public static class PartitionRun
{
    public static readonly TimeSpan SteadyWindow = TimeSpan.FromSeconds(6);
    public static readonly TimeSpan FaultWindow = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan Warmup = TimeSpan.FromSeconds(8);

    public static async Task<PartitionReport> RunAsync(
        string scenario, PartitionCluster cluster, int workers, int steps, TimeSpan duration, TimeSpan faultAfter, Func<Task> inject,
        Action<string> log, IScenarioWork? work = null)
    {
        var system = cluster.System;
        var admin = system.Database.AdminConnectionString;
        var path = $"tests/chain_{Guid.NewGuid():N}";
        await system.Http.Register(FaultRun.ChainPlaybook(path, steps));
        var driver = new LoadDriver(cluster.Gateways, TimeSpan.FromMilliseconds(20));

        // Warm-up (JIT, connection pools, grain directory): its executions count in the ledger, not in the figures.
        var warmup = await driver.RunForAsync(path, workers, Warmup, drain: TimeSpan.FromSeconds(60));

        await using var sampler = new ConnectionSampler(admin);
        var started = DateTime.UtcNow;
        var loadEnd = started + duration;
        var load = driver.RunForAsync(path, workers, duration, drain: TimeSpan.FromSeconds(90));
        if (work is null)
            await Task.Delay(faultAfter);
        else
        {
            await Task.Delay(faultAfter - work.Lead);
            await work.PrepareAsync();
            await Task.Delay(work.Lead);
        }
        var faultAt = DateTime.UtcNow;
        await inject();
        var measured = await load;
        IReadOnlyList<long> own = work is null ? [] : await work.SettleAsync();
        List<long> executions = [.. warmup, .. measured, .. own];
        var finished = DateTime.UtcNow;
        await sampler.DisposeAsync();

        var ledger = await Ledger.CheckAsync(admin, executions, steps);
        var completions = (await Ledger.CompletionsAsync(admin, measured)).Where(c => c < loadEnd).ToList();
        var survivors = completions.Count(c => c >= loadEnd - SteadyWindow) / SteadyWindow.TotalSeconds;
        // Recovered = back to 95 % of the survivors' steady rate, or of the pre-fault rate when that was lower: on two
        // shared cores a killed silo frees CPU, so the survivors can outrun the three silos (and the load still warms up).
        // Survivors below half the pre-fault rate never settled (a run stalled to the end of its load once, and a bar
        // of zero read as recovery at once): then the pre-fault rate is the bar.
        var preFault = completions.Count(c => c >= faultAt - SteadyWindow && c < faultAt) / SteadyWindow.TotalSeconds;
        var bar = survivors >= preFault / 2 ? Math.Min(preFault, survivors) : preFault;
        var (before, recovery, during, after) = FaultRun.Throughput(completions, faultAt, bar, TimeSpan.FromSeconds(1));
        var faultEnd = faultAt + TimeSpan.FromSeconds(Math.Max(FaultWindow.TotalSeconds, recovery ?? 0));
        // Calls in flight at the fault count too: those are the ones a dead silo loses.
        var p99 = P99(driver.Calls.Where(c => c.At + c.Latency >= faultAt && c.At < faultEnd));
        var p99Before = P99(driver.Calls.Where(c => c.At >= faultAt - SteadyWindow && c.At + c.Latency < faultAt));
        var dead = await system.AdminCountAsync("SELECT count(*) FROM orleans.membership WHERE deployment_id = $1 AND status = 6", system.ClusterId);
        var errors = driver.Errors.Count(t => t >= faultAt && t < faultEnd);
        var report = new PartitionReport(scenario, ledger, (finished - started).TotalSeconds, recovery, before, during, after, survivors, p99, p99Before,
            errors, sampler.MaxSiloConnections, system.Silos.Count * system.PoolSize, dead);

        // Commands completed in each second of the load, the fault's second marked: what the figures summarize.
        var timeline = string.Join(' ', Enumerable.Range(0, (int)Math.Ceiling(duration.TotalSeconds)).Select(second =>
        {
            var from = started.AddSeconds(second);
            var count = completions.Count(c => c >= from && c < from.AddSeconds(1));
            return faultAt >= from && faultAt < from.AddSeconds(1) ? $"[{count}]" : count.ToString(CultureInfo.InvariantCulture);
        }));
        var text = $"### {scenario}\n\ncommands per second: {timeline}\n\n{ledger.Table()}\n" +
            $"| max silo connections | {report.MaxSiloConnections} | ≤ {report.SiloConnectionBound} |\n\n{PartitionReport.Header}\n{report.Row()}\n";
        if (!ledger.Clean)
            text += "\nunfinished:\n" + await Ledger.DescribeUnfinishedAsync(admin, executions) + "\n";
        log(text);
        await WriteAsync(report, text);
        return report;
    }

    private static double P99(IEnumerable<(DateTime At, TimeSpan Latency)> calls)
    {
        var latencies = calls.Select(c => c.Latency.TotalMilliseconds).Order().ToList();
        return latencies.Count == 0 ? 0 : latencies[(int)Math.Ceiling(latencies.Count * 0.99) - 1];
    }

    /// <summary>
    /// No loss, no duplicate, nothing stuck, connections within the pools, and no silo declared dead but the ones the
    /// scenario took out (a live silo voted out under load would be a false death declaration).
    /// </summary>
    public static void AssertClean(PartitionReport report, NoEtlSystem system, int silosTakenOut)
    {
        Assert.True(report.SilosDeclaredDead == silosTakenOut, $"{report.Scenario}: {report.SilosDeclaredDead} silos declared dead, {silosTakenOut} taken out");
        Assert.True(report.Ledger.Clean, $"{report.Scenario}: {report.Ledger}\n{system.Logs()}");
        Assert.True(report.MaxSiloConnections <= report.SiloConnectionBound,
            $"{report.Scenario}: silos held {report.MaxSiloConnections} connections, bound {report.SiloConnectionBound}");
    }

    private static async Task WriteAsync(PartitionReport report, string text)
    {
        var folder = Directory.CreateDirectory(Path.Combine(BuildOutput.RepositoryRoot, ".run", "partition-results")).FullName;
        var name = string.Concat(report.Scenario.Select(c => char.IsLetterOrDigit(c) ? c : '-'));
        await File.WriteAllTextAsync(Path.Combine(folder, name + ".json"), JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
        await File.WriteAllTextAsync(Path.Combine(folder, name + ".md"), report.Row() + "\n");
        await File.AppendAllTextAsync(Path.Combine(folder, "ledgers.md"), text + "\n");
    }
}
