using Npgsql;
using NoEtl.Bench.Harness;
using NoEtl.Bench.History;
using NoEtl.Bench.Scenarios;

namespace NoEtl.Bench;

/// <summary>The results of one run; with <c>--history</c>, <see cref="Filled"/> holds the second pass and its history.</summary>
public sealed record BenchOutcome(MachineInfo Machine, IReadOnlyList<Measurement> Results, HistoryPass? Filled, string Markdown, string? RecordedTo)
{
    /// <summary>Every measurement of the run, both passes.</summary>
    public IEnumerable<Measurement> All => Filled is null ? Results : Results.Concat(Filled.Results);
}

/// <summary>The scenarios again, on tables that hold <see cref="Size"/>.</summary>
public sealed record HistoryPass(HistorySize Size, IReadOnlyList<Measurement> Results);

/// <summary>Starts (or targets) the system, runs the chosen scenarios in order and reports them.</summary>
public static class BenchRunner
{
    public static async Task<BenchOutcome> RunAsync(BenchOptions options, Action<string> log)
    {
        var startedUtc = DateTime.UtcNow;
        var empty = new List<Measurement>();
        var filledResults = new List<Measurement>();
        HistorySize? history = null;
        MachineInfo? machine = null;
        HelmFastFailover? fastFailover = null;
        foreach (var hosting in options.Hosting)
        {
            await using var system = await SystemUnderTest.StartAsync(options, hosting, log);
            fastFailover ??= system.FastFailover;
            await using var admin = DataSource(system, "noetl-bench-admin");
            await using var monitor = DataSource(system, "noetl-bench-monitor");
            if (machine is null)
            {
                machine = await MachineInfo.ReadAsync(admin);
                log(machine.Describe());
                if (!machine.Durable)
                    log("WARNING: commits are not durable (synchronous_commit/fsync off): figures are not valid and will not be recorded");
            }

            using var client = new NoEtlClient(system.GatewayUrl, system.Tokens);
            // One baseline per pass: the topologies of a pass are compared against the same single-row figure.
            var runsBaseline = hosting == options.Hosting[0];
            try
            {
                await PassAsync(new ScenarioContext(options, system, client, admin, monitor, log, empty), runsBaseline);
                if (options.HistoryEvents is { } events)
                {
                    log($"history: filling {events:#,0} events");
                    history = await HistoryFill.FillAsync(admin, events, log);
                    log($"history: {history.Describe()}");
                    await PassAsync(new ScenarioContext(options, system, client, admin, monitor, log, filledResults), runsBaseline);
                }
            }
            catch
            {
                log(system.Logs());
                throw;
            }
        }

        var filled = history is null ? null : new HistoryPass(history, filledResults);
        var markdown = Report.Markdown(machine!, options, empty, filled, startedUtc, fastFailover);
        string? recordedTo = null;
        if (!options.NoRecord && machine!.Durable)
        {
            recordedTo = options.DocsPath ?? Path.Combine(SystemUnderTest.RepositoryRoot, "docs", "benchmarks.md");
            if (!File.Exists(recordedTo))
                await File.WriteAllTextAsync(recordedTo, Report.DocumentHeader);
            await File.AppendAllTextAsync(recordedTo, markdown);
        }
        return new BenchOutcome(machine!, empty, filled, markdown, recordedTo);
    }

    /// <summary>Every chosen scenario once, into the context's results (whose baseline the ratios use).</summary>
    private static async Task PassAsync(ScenarioContext context, bool runsBaseline)
    {
        IScenario[] all = [new BaselineScenario(), new EventsScenario(), new ClaimsScenario(), new FlowScenario(), new OutboxScenario(), new ReadsScenario(), new MemoryScenario()];
        foreach (var scenario in all.Where(s => context.Options.Scenarios.Contains(s.Name) && (runsBaseline || s is not BaselineScenario)))
            await scenario.RunAsync(context);
    }

    private static NpgsqlDataSource DataSource(SystemUnderTest system, string application) =>
        NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(system.AdminDsn) { ApplicationName = application, MaxPoolSize = 4 }.ConnectionString);
}
