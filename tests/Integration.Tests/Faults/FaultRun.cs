using System.Globalization;
using System.Text;
using System.Text.Json;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests.Faults;

/// <summary>One scenario's figures, as written to .run/fault-results/ and docs/reliability.md.</summary>
public sealed record FaultReport(
    string Scenario, int Executions, int Workers, LedgerResult Ledger, double TotalSeconds, double PreFaultRate,
    double? RecoverySeconds, double DuringRate, double AfterRate, int MaxSiloConnections, int SiloConnectionBound,
    int ClientErrors, IReadOnlyCollection<string> Connections)
{
    public string Row() => string.Create(CultureInfo.InvariantCulture,
        $"| {Scenario} | {Ledger.Completed}/{Executions} | {Ledger.Lost} / {Ledger.DuplicatedEffects} / {Ledger.Stuck} | " +
        $"{(RecoverySeconds is { } r ? $"{r:0.0} s" : "n/a")} | {PreFaultRate:0} / {DuringRate:0} / {AfterRate:0} | " +
        $"{MaxSiloConnections} ≤ {SiloConnectionBound} | {ClientErrors} | {TotalSeconds:0} s |");
}

/// <summary>
/// Runs one fault scenario: start the executions, drive them, inject the fault once a share of the work is done,
/// wait for everything to finish, then check the ledger and compute the figures. Throughput is measured from
/// the database (command.completed events per second), so it is the same yardstick whoever runs the commands.
/// </summary>
public static class FaultRun
{
    public static string ChainPlaybook(string path, int steps)
    {
        var yaml = new StringBuilder($"apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {{name: chain, path: {path}}}\nworkflow:\n");
        for (var i = 0; i < steps; i++)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"  - step: {(i == 0 ? "start" : $"s{i}")}\n    tool: {{kind: noop}}\n");
            if (i + 1 < steps)
                yaml.Append(CultureInfo.InvariantCulture, $"    next: {{arcs: [{{step: s{i + 1}}}]}}\n");
        }
        return yaml.ToString();
    }

    /// <param name="drive">Runs the executions until they are terminal or the deadline passes.</param>
    /// <param name="inject">The fault; runs once <paramref name="faultAtShare"/> of the commands completed.</param>
    public static async Task<FaultReport> RunAsync(
        string scenario, NoEtlSystem system, IReadOnlyList<long> executions, int commandsPerExecution, int workers,
        Func<DateTime, Task> drive, Func<Task> inject, TimeSpan timeout, double faultAtShare = 0.3,
        Func<IEnumerable<DateTime>>? clientErrors = null, int? siloCount = null)
    {
        var admin = system.Database.AdminConnectionString;
        await using var sampler = new ConnectionSampler(admin);
        var started = DateTime.UtcNow;
        var deadline = started + timeout;
        var driving = drive(deadline);

        var total = executions.Count * commandsPerExecution;
        while (await CompletedCountAsync(admin, executions) < total * faultAtShare)
        {
            if (driving.IsCompleted || DateTime.UtcNow > deadline)
                break;
            await Task.Delay(200);
        }
        var faultAt = DateTime.UtcNow;
        await inject();
        await driving;
        var finished = DateTime.UtcNow;
        await sampler.DisposeAsync();

        var ledger = await WaitLedgerAsync(admin, executions, commandsPerExecution);
        var completions = await Ledger.CompletionsAsync(admin, executions);
        var errors = (clientErrors?.Invoke() ?? []).Where(t => t >= faultAt).Order().ToList();
        var (pre, recovery, during, after) = Throughput(completions, faultAt);
        var silos = siloCount ?? system.Silos.Count;
        if (!ledger.Clean)
            await File.WriteAllTextAsync(Path.Combine(ResultsFolder, "unfinished.txt"), await Ledger.DescribeUnfinishedAsync(admin, executions));
        var report = new FaultReport(scenario, executions.Count, workers, ledger, (finished - started).TotalSeconds, pre, recovery, during, after,
            sampler.MaxSiloConnections, silos * system.PoolSize, errors.Count, sampler.Seen);
        await WriteAsync(report);
        return report;
    }

    /// <summary>Asserts the acceptance criteria every scenario shares.</summary>
    public static void AssertClean(FaultReport report, NoEtlSystem system)
    {
        Assert.True(report.Ledger.Clean, $"{report.Scenario}: {report.Ledger}\n{system.Logs()}");
        Assert.True(report.MaxSiloConnections <= report.SiloConnectionBound,
            $"{report.Scenario}: silos held {report.MaxSiloConnections} connections, bound {report.SiloConnectionBound}");
        // Workers never connect; the gateway only with its discovery role (the sampler itself is the superuser).
        Assert.All(report.Connections.Where(c => !c.StartsWith("postgres/", StringComparison.Ordinal)), c => Assert.Contains(c, new[]
        {
            "noetl_server/noetl-silo", "noetl_server/noetl-silo-cluster", "noetl_gateway/noetl-gateway", "noetl_gateway/",
        }));
    }

    /// <summary>
    /// Pre-fault rate: completions per second over the 5 s before the fault. Recovery: from the fault (clients may
    /// see their first error only when a lost call times out, so this is the conservative start) to the start of
    /// the first 2 s window whose rate is back to 95 % of it. During: the rate between fault and recovery;
    /// after: over the 10 s that follow recovery (or until the work ran out).
    /// </summary>
    /// <param name="baseline">The rate to recover to (default: the pre-fault rate), e.g. the surviving silos' own steady rate.</param>
    /// <param name="window">The measuring window (default 2 s).</param>
    public static (double Pre, double? Recovery, double During, double After) Throughput(List<DateTime> completions, DateTime faultAt,
        double? baseline = null, TimeSpan? window = null)
    {
        if (completions.Count == 0)
            return (0, null, 0, 0);
        var preStart = Max(completions[0], faultAt.AddSeconds(-5));
        var preSeconds = Math.Max(0.5, (faultAt - preStart).TotalSeconds);
        var pre = completions.Count(t => t >= preStart && t < faultAt) / preSeconds;
        var target = 0.95 * (baseline ?? pre);
        var last = completions[^1];
        var span = window ?? TimeSpan.FromSeconds(2);
        var step = TimeSpan.FromMilliseconds(Math.Min(250, span.TotalMilliseconds / 8));
        double Rate(DateTime t) => completions.Count(c => c >= t && c < t + span) / span.TotalSeconds;
        // The dip: the first window after the fault below 95 %; none means the fault did not show in throughput — unless
        // not one whole window of completions follows the fault: then nothing recovered.
        var dip = faultAt;
        while (dip + span <= last && Rate(dip) >= target)
            dip += step;
        DateTime? recoveredAt = dip + span > last && faultAt + span <= last ? faultAt : null;
        for (var t = dip; recoveredAt is null && t + span <= last; t += step)
        {
            if (Rate(t) >= target)
                recoveredAt = t;
        }
        var end = recoveredAt ?? last;
        var during = completions.Count(c => c >= faultAt && c < end) / Math.Max(0.25, (end - faultAt).TotalSeconds);
        var afterEnd = Min(end.AddSeconds(10), last);
        var after = recoveredAt is null ? 0 : completions.Count(c => c >= end && c <= afterEnd) / Math.Max(0.25, (afterEnd - end).TotalSeconds);
        return (pre, recoveredAt is null ? null : (recoveredAt.Value - faultAt).TotalSeconds, during, after);
    }

    /// <summary>Polls until every execution is terminal (reference workers run them) or the deadline passes.</summary>
    public static async Task WaitTerminalAsync(string adminConnectionString, IReadOnlyList<long> executions, DateTime deadline)
    {
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                await using var connection = new NpgsqlConnection(adminConnectionString);
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand(
                    "SELECT count(*) FROM noetl.execution WHERE execution_id = ANY($1) AND status IN ('COMPLETED', 'FAILED', 'CANCELLED')", connection);
                command.Parameters.AddWithValue(executions.ToArray());
                if ((long)(await command.ExecuteScalarAsync())! == executions.Count)
                    return;
            }
            catch (NpgsqlException) { } // the database may be the fault
            await Task.Delay(250);
        }
    }

    private static async Task<long> CompletedCountAsync(string admin, IReadOnlyList<long> executions)
    {
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM noetl.event WHERE execution_id = ANY($1) AND event_type = 'command.completed'", connection);
        command.Parameters.AddWithValue(executions.ToArray());
        return (long)(await command.ExecuteScalarAsync())!;
    }

    // The database may itself have been the fault: retry the ledger for a while.
    private static async Task<LedgerResult> WaitLedgerAsync(string admin, IReadOnlyList<long> executions, int commandsPerExecution)
    {
        for (var attempt = 0; ; attempt++)
        {
            try { return await Ledger.CheckAsync(admin, executions, commandsPerExecution); }
            catch (NpgsqlException) when (attempt < 20) { await Task.Delay(500); }
        }
    }

    private static async Task WriteAsync(FaultReport report)
    {
        var folder = ResultsFolder;
        var name = string.Concat(report.Scenario.Select(c => char.IsLetterOrDigit(c) ? c : '-'));
        await File.WriteAllTextAsync(Path.Combine(folder, name + ".json"), JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
        await File.WriteAllTextAsync(Path.Combine(folder, name + ".md"), report.Row() + "\n");
    }

    private static string ResultsFolder => Directory.CreateDirectory(Path.Combine(BuildOutput.RepositoryRoot, ".run", "fault-results")).FullName;

    private static DateTime Max(DateTime a, DateTime b) => a > b ? a : b;

    private static DateTime Min(DateTime a, DateTime b) => a < b ? a : b;
}
