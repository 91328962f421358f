using System.Text;
using NoEtl.Bench.Harness;

namespace NoEtl.Bench;

/// <summary>The results as a markdown section: printed to the console and appended to docs/benchmarks.md.</summary>
public static class Report
{
    /// <summary>One run; with a history pass, both passes' tables and the history-scale comparison between them.</summary>
    /// <param name="fastFailover">The chart's settings the silos ran with (several silos), for the record.</param>
    public static string Markdown(MachineInfo machine, BenchOptions options, IReadOnlyList<Measurement> results, HistoryPass? filled, DateTime startedUtc,
        HelmFastFailover? fastFailover)
    {
        var text = new StringBuilder();
        text.AppendLine($"## {startedUtc:yyyy-MM-dd HH:mm} UTC");
        text.AppendLine();
        text.AppendLine($"- Machine: {machine.Describe()}.");
        if (!machine.Durable)
            text.AppendLine("- **NOT VALID FOR REPORTING: commits are not durable (synchronous_commit or fsync is off).**");
        text.AppendLine(
            $"- Run: `{string.Join(',', options.Scenarios)} --duration {options.DurationSeconds} --warmup {options.WarmupSeconds} --workers {options.Workers} --pool {options.PoolSize}"
            + $" --baseline-batch {string.Join(',', options.BaselineBatches)} --event-batch {string.Join(',', options.EventBatches)}"
            + $" --inflight {string.Join(',', options.FlowInFlight)} --outbox-batch {options.OutboxBatch} --hosting {string.Join(',', options.Hosting)}"
            + (options.Silos > 1 ? $" --silos {options.Silos}" : "")
            + (options.Scenarios.Contains("memory") ? $" --memory-executions {options.MemoryExecutions} --loop-iterations {options.LoopIterations}"
                + (options.LoopResultBytes > 0 ? $" --loop-result-bytes {options.LoopResultBytes}" : "") : "")
            + (options.HistoryEvents is { } history ? $" --history {history}" : "") + "`"
            + (options.TargetUrl is null ? $" (own system per topology: {string.Join("; ", options.Hosting.Select(h => Topology(h, options.Silos)))})" : $" against {options.TargetUrl}") + ".");
        if (fastFailover is not null)
            text.AppendLine($"- Several silos, with the Helm chart's fast-failover settings (helm/noetl/values.yaml): {fastFailover.Describe()}. "
                + "After every phase orleans.membership must hold no silo declared dead (status 6).");
        if (results.Concat(filled?.Results ?? []).FirstOrDefault(m => m.Resources?.DeadSilos is { Count: > 0 }) is { } first)
            text.AppendLine($"- **FALSE DEATH DECLARATION: {first.Resources!.DeadSilos!.Count} silo(s) declared dead by the end of {first.Scenario} / {first.Phase} "
                + $"({string.Join(", ", first.Resources.DeadSilos)}); the figures from then on are not the cluster's.**");
        text.AppendLine();
        if (filled is null)
        {
            Results(text, results, machine);
            return text.ToString();
        }
        text.AppendLine($"- History: {filled.Size.Describe()}.");
        text.AppendLine();
        HistoryScale(text, results, filled.Results, machine.Cores);
        text.AppendLine("### Empty tables");
        text.AppendLine();
        Results(text, results, machine);
        text.AppendLine($"### After the history fill ({filled.Size.Events:#,0} events)");
        text.AppendLine();
        Results(text, filled.Results, machine);
        return text.ToString();
    }

    /// <summary>
    /// Each figure filled against empty, from the same run: throughput should keep at least 80% of its empty-table
    /// value and the p99 of the phase's first latency should grow by at most 20%. The system CPU per unit is shown
    /// beside them: on a shared machine it separates "costs more" from "got less of the machine".
    /// </summary>
    private static void HistoryScale(StringBuilder text, IReadOnlyList<Measurement> empty, IReadOnlyList<Measurement> filled, int cores)
    {
        text.AppendLine("| scenario | phase | figure empty → filled | ratio | p99 empty → filled (ms) | ratio | system CPU ms per unit | within 20%? |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var after in filled)
        {
            if (empty.FirstOrDefault(m => m.Scenario == after.Scenario && m.Phase == after.Phase) is not { } before)
                continue;
            var ratio = after.Value / before.Value;
            var latencyName = after.Latencies.Count > 0 ? after.Latencies[0].Name : null;
            var (p99Before, p99After) = latencyName is null ? (0, 0) : (before.Latencies[0].Latency.P99, after.Latencies[0].Latency.P99);
            var p99Ratio = p99Before > 0 ? p99After / p99Before : (double?)null;
            var flat = ratio >= 0.8 && (p99Ratio is null || p99Ratio <= 1.2);
            var latency = latencyName is null ? "—" : $"{latencyName}: {p99Before:0.0} → {p99After:0.0}";
            text.AppendLine($"| {after.Scenario} | {after.Phase} | {before.Value:#,0.#} → {after.Value:#,0.#} {after.Unit} | {ratio:0.00}× | {latency} | "
                + $"{(p99Ratio is { } r ? $"{r:0.00}×" : "—")} | {SystemCpuMs(before, cores):0.00} → {SystemCpuMs(after, cores):0.00} | {(flat ? "✅" : "❌")} |");
        }
        text.AppendLine();
    }

    private static void Results(StringBuilder text, IReadOnlyList<Measurement> results, MachineInfo machine)
    {
        text.AppendLine("| scenario | phase | figure | latency p50 / p95 / p99 (ms) | ratio to baseline | errors | silo conns max / pools | targets |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var m in results)
        {
            var latency = string.Join("<br>", m.Latencies.Select(l => $"{l.Name}: {l.Latency.P50:0.0} / {l.Latency.P95:0.0} / {l.Latency.P99:0.0}"));
            var ratio = m.Ratio is { } r ? $"{r:0.00}× {m.RatioAgainst}" : m.Scenario == "baseline" ? "(reference)" : "—";
            var connections = m.Resources is { } res ? $"{res.ServerConnectionsMax} / {res.SiloConnectionBound}" + (res.ServerConnectionsMax > res.SiloConnectionBound ? " **over**" : "") : "—";
            var targets = m.Targets.Count == 0 ? "—" : string.Join("<br>", m.Targets.Select(t => $"{(t.Met ? "✅" : "❌")} {t.Target}: {t.Actual}"));
            text.AppendLine($"| {m.Scenario} | {m.Phase} | **{m.Value:#,0.#} {m.Unit}** | {latency} | {ratio} | {m.Errors} | {connections} | {targets} |");
        }
        text.AppendLine();
        text.AppendLine("CPU share of the whole machine per phase (100% = all cores), and notes:");
        text.AppendLine();
        foreach (var m in results)
        {
            var cpu = m.Resources is null ? "" : string.Join(", ", m.Resources.Cpu.Where(c => c.Percent >= 0.5).Select(c => $"{c.Group} {c.Percent:0}%"));
            var connections = m.Resources is null ? "" : string.Join(", ", m.Resources.ConnectionsMaxByRole.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}"));
            text.AppendLine($"- {m.Scenario} / {m.Phase}: CPU {cpu}; {CpuPerUnit(m, machine.Cores)}; max connections {connections}" + (m.Note is null ? "" : $". {m.Note}."));
            foreach (var sample in m.ErrorSamples)
                text.AppendLine($"  - error: `{sample.Replace('`', '\'').ReplaceLineEndings(" ")}`");
        }
        text.AppendLine();
    }

    private static string Topology(string hosting, int silos) =>
        hosting == "combined" ? "1 silo serving the API" : $"{silos} silo{(silos == 1 ? "" : "s")}, 1 gateway";

    private static readonly string[] SystemGroups = ["silo", "gateway", "postgres backends", "postgres wal/bg"];

    /// <summary>CPU milliseconds of silo, gateway and PostgreSQL per unit of the figure.</summary>
    private static double SystemCpuMs(Measurement m, int cores) =>
        m.Resources is null || m.Value <= 0 ? 0 : m.Resources.Cpu.Where(c => SystemGroups.Contains(c.Group)).Sum(c => c.Percent / 100 * cores * 1000 / m.Value);

    /// <summary>
    /// CPU milliseconds each part spends per unit of the figure, and the rate the system (without the bench) could
    /// reach if it had every core to itself: a figure that does not depend on what else ran on the machine.
    /// </summary>
    private static string CpuPerUnit(Measurement m, int cores)
    {
        if (m.Resources is null || m.Value <= 0 || !m.Unit.EndsWith("/s", StringComparison.Ordinal))
            return ""; // memory figures are sizes and latencies, not rates

        var unit = m.Unit.Split('/')[0].TrimEnd('s');
        var perUnit = m.Resources.Cpu.Where(c => SystemGroups.Contains(c.Group) || c.Group == "bench")
            .Select(c => (c.Group, Ms: c.Percent / 100 * cores * 1000 / m.Value)).ToList();
        var system = SystemCpuMs(m, cores);
        var parts = string.Join(", ", perUnit.Where(c => c.Ms >= 0.005).Select(c => $"{c.Group} {c.Ms:0.00}"));
        var window = m.Value * m.Resources.WindowSeconds;
        var database = m.Resources.Database;
        return $"CPU ms per {unit}: {parts}; system total {system:0.00} ms ⇒ CPU ceiling ≈ {cores * 1000 / system:#,0} {m.Unit} on {cores} free cores; "
            + $"PostgreSQL per {unit}: {database.Commits / window:0.0} commits, {database.Inserted / window:0.0} rows inserted, {database.Updated / window:0.0} updated";
    }

    public const string DocumentHeader = """
        # Benchmarks

        `bench/` drives a real system (PostgreSQL, one silo, one gateway) over HTTP with simulated workers that speak
        the worker protocol and execute nothing. Run it from the repository root, as root (it starts PostgreSQL with
        `scripts/pg.sh`, which keeps `synchronous_commit=on` and `fsync=on`):

        ```bash
        dotnet run -c Release --project bench -- all                  # every scenario, 20 s per phase, appends here
        dotnet run -c Release --project bench -- events,flow --duration 10 --no-record
        dotnet run -c Release --project bench -- all --target http://127.0.0.1:8082 --internal-token "$(cat .run/internal-token)" \
            --operator-token "$OPERATOR_TOKEN" --worker-token "$SHARED_POOL_TOKEN" \
            --admin-dsn "Host=127.0.0.1;Port=55432;Username=postgres;Password=postgres;Database=noetl"
        ```

        The system it starts keeps authentication on, with an operator principal (register, execute, cancel) and a
        worker principal of pool `shared` (claims, events), as a deployment would.

        Scenarios (each phase has a 5 s warm-up, then a 20 s window; the baseline always runs, as every ratio is against it):

        - **baseline**: raw Npgsql INSERTs into `bench_event` (a `LIKE noetl.event INCLUDING ALL` copy) from N connections,
          one transaction per statement, with 1, 10 and 100 rows per transaction: the machine's durable-commit limit.
        - **events**: N workers, each holding the claimed command of its own execution, post `command.heartbeat` events
          (`actionable:false`, ~400 B): never deduplicated and no engine turn, so each 200 is exactly one durable event row, committed
          through the silo's group commit (checked: every acknowledged event is a row in `noetl.event`). The
          batch phase posts 10 events per `/api/events/batch` request.
        - **claims**: commands pre-issued by fan-out executions (100 per execute), their notifications taken from the
          outbox and shuffled; N workers claim and post `command.completed`. The figure counts claims + completions.
        - **flow**: five-step executions, M in flight; commands reach the workers through the outbox long-poll and each
          step is claim → `command.started` → `call.done` → `command.completed`. Issued→claimed runs from the
          millisecond inside the `command.issued` snowflake id (silo clock, same host) to the claim's 200.
        - **outbox**: rows written first, then 4 publishers claim (100 rows) and mark-published until empty.
        - **reads**: 4 readers fetch page 1 of `GET /api/executions`, then page 1 of the detail of a 10,000-event execution.

        With `--history N` every scenario runs twice: on the empty tables, then after PostgreSQL generated N events of
        history (N/10 commands over N/100 executions, N/10 published outbox rows); a table compares the two passes.

        Latencies are exact percentiles over every sample of the window. "silo conns" is the most client connections of role
        `noetl_server` seen in `pg_stat_activity` (sampled every 200 ms) against the silos' pools: silos ×
        `NOETL_POSTGRES_POOL_MAX`, each silo's grain pool (the setting − 2) and its cluster pool (2: membership, reminders,
        watchdog) together. PostgreSQL's parallel query workers carry their leader's role and application name but belong to
        no pool: they are listed apart ("(parallel workers)") and not counted. CPU shares come from `/proc` ticks: `silo` is
        every silo of the cluster together, `postgres backends` the backends of the benchmark database, `postgres wal/bg` the
        server's own processes, `other processes` everything else on the machine (other users' work included).
        "CPU ms per unit" divides each part's CPU time by the work done, and the "CPU ceiling" is the rate the
        system (silo + gateway + PostgreSQL, without the bench) would reach with every core to itself: unlike the
        raw figures, these do not depend on what else ran on a shared machine. "PostgreSQL per unit" is the change of
        `pg_stat_database` over the window (every statement outside a transaction block counts as a commit, reads too). In
        `--target` mode the silo and gateway are found by command line, so every `NoEtl.Silo`/`NoEtl.ApiGateway` process on
        the host counts.

        """;
}
