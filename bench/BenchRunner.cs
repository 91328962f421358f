using Npgsql;
using NoEtl.Bench.Harness;
using NoEtl.Bench.Scenarios;

namespace NoEtl.Bench;

public sealed record BenchOutcome(MachineInfo Machine, IReadOnlyList<Measurement> Results, string Markdown, string? RecordedTo);

/// <summary>Starts (or targets) the system, runs the chosen scenarios in order and reports them.</summary>
public static class BenchRunner
{
    public static async Task<BenchOutcome> RunAsync(BenchOptions options, Action<string> log)
    {
        var startedUtc = DateTime.UtcNow;
        var results = new List<Measurement>();
        MachineInfo? machine = null;
        IScenario[] all = [new BaselineScenario(), new EventsScenario(), new ClaimsScenario(), new FlowScenario(), new OutboxScenario(), new MemoryScenario()];
        foreach (var hosting in options.Hosting)
        {
            await using var system = await SystemUnderTest.StartAsync(options, hosting, log);
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
            // One baseline per run: the topologies are compared against the same single-row figure.
            var context = new ScenarioContext(options, system, client, admin, monitor, log, results);
            try
            {
                foreach (var scenario in all.Where(s => options.Scenarios.Contains(s.Name) && (s is not BaselineScenario || hosting == options.Hosting[0])))
                    await scenario.RunAsync(context);
            }
            catch
            {
                log(system.Logs());
                throw;
            }
        }

        var markdown = Report.Markdown(machine!, options, results, startedUtc);
        string? recordedTo = null;
        if (!options.NoRecord && machine!.Durable)
        {
            recordedTo = options.DocsPath ?? Path.Combine(SystemUnderTest.RepositoryRoot, "docs", "benchmarks.md");
            if (!File.Exists(recordedTo))
                await File.WriteAllTextAsync(recordedTo, Report.DocumentHeader);
            await File.AppendAllTextAsync(recordedTo, markdown);
        }
        return new BenchOutcome(machine!, results, markdown, recordedTo);
    }

    private static NpgsqlDataSource DataSource(SystemUnderTest system, string application) =>
        NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(system.AdminDsn) { ApplicationName = application, MaxPoolSize = 4 }.ConnectionString);
}
