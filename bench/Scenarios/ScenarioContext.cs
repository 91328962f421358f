using System.Collections.Concurrent;
using System.Net;
using Npgsql;
using NoEtl.Bench.Harness;

namespace NoEtl.Bench.Scenarios;

public interface IScenario
{
    string Name { get; }

    Task RunAsync(ScenarioContext context);
}

/// <summary>What every scenario shares: the system, its clients, and the results so far (for baseline ratios).</summary>
/// <param name="results">Shared by every topology of the run, so each compares with the same baseline.</param>
public sealed class ScenarioContext(BenchOptions options, SystemUnderTest system, NoEtlClient client, NpgsqlDataSource admin,
    NpgsqlDataSource monitor, Action<string> log, List<Measurement> results)
{
    public BenchOptions Options { get; } = options;
    public SystemUnderTest System { get; } = system;
    public NoEtlClient Client { get; } = client;

    /// <summary>Superuser on the system's database, for set-up and the baseline (never for the scenarios' work).</summary>
    public NpgsqlDataSource Admin { get; } = admin;

    public List<Measurement> Results { get; } = results;

    public void Log(string message) => log(message);

    /// <summary>The check of every phase with several silos: a live silo voted out under load is a false death declaration.</summary>
    public const string NoDeadSilo = "no silo declared dead";

    public Recorder NewRecorder() => new(Options.WarmupSeconds, Options.DurationSeconds);

    /// <summary>Rows/s of the baseline phase with <paramref name="rowsPerTransaction"/>, if it ran.</summary>
    public Measurement? Baseline(int rowsPerTransaction) =>
        Results.FirstOrDefault(r => r.Scenario == "baseline" && r.Phase == BaselineScenario.PhaseName(rowsPerTransaction));

    /// <summary>Runs one phase under the connection and CPU monitor and keeps its result.</summary>
    /// <remarks>With several topologies in the run, each phase name says which one it measured.</remarks>
    public async Task<Measurement> PhaseAsync(string scenario, string phase, Func<Task<Measurement>> body, double? warmupSeconds = null)
    {
        Log($"{scenario} / {phase}: running");
        Measurement measurement;
        await using (var phaseMonitor = PhaseMonitor.Start(System, monitor, warmupSeconds ?? Options.WarmupSeconds, Options.DurationSeconds))
        {
            measurement = await body();
            if (Options.Hosting.Count > 1 && scenario != "baseline")
                measurement = measurement with { Phase = $"{measurement.Phase} [{System.Hosting}]" };
            measurement.Resources = await phaseMonitor.StopAsync();
        }
        var resources = measurement.Resources;
        if (scenario != "baseline")
        {
            var pools = System.SiloCount == 1 ? $"{System.PoolSize}" : $"{System.SiloCount} × {System.PoolSize}";
            measurement.Targets.Add(new TargetCheck("silo connections ≤ pools (grains + cluster)", resources.ServerConnectionsMax <= resources.SiloConnectionBound,
                $"max {resources.ServerConnectionsMax} of {pools}"));
        }
        if (resources.DeadSilos is { } dead)
        {
            measurement.Targets.Add(new TargetCheck(NoDeadSilo, dead.Count == 0, dead.Count == 0
                ? $"0 of {System.SiloCount} silos dead"
                : $"**{dead.Count} of {System.SiloCount} silos declared dead by the end of this phase: {string.Join(", ", dead)}**"));
            if (dead.Count > 0)
                Log($"{scenario} / {phase}: FALSE DEATH DECLARATION: {dead.Count} silo(s) dead in orleans.membership: {string.Join(", ", dead)}");
        }
        Results.Add(measurement);
        var latency = measurement.Latencies.Count == 0 ? "" : $", {measurement.Latencies[0].Name} p50 {measurement.Latencies[0].Latency.P50:0.0} ms p99 {measurement.Latencies[0].Latency.P99:0.0} ms";
        Log($"{scenario} / {phase}: {measurement.Value:0.#} {measurement.Unit}{latency}, {measurement.Errors} errors");
        return measurement;
    }

    /// <summary>
    /// Takes the command.issued notifications of <paramref name="executions"/> from the outbox (the delivery path
    /// workers have without NATS) until <paramref name="expected"/> distinct commands arrived; rows of other executions
    /// are acknowledged and dropped, and so are re-notifications of a command already taken (the reaper's, when a
    /// command stayed pending past a minute). Gives up after a minute without a new command.
    /// </summary>
    public async Task<List<OutboxRow>> CollectCommandsAsync(IReadOnlySet<long> executions, int expected)
    {
        var rows = new List<OutboxRow>(expected);
        var taken = new HashSet<long>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (rows.Count < expected)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"only {rows.Count} of {expected} commands reached the outbox");
            var (status, claimed, body) = await Client.ClaimOutboxAsync(1000, 1000);
            NoEtlClient.Ensure(status, body, "outbox claim");
            if (claimed.Count == 0)
                continue;
            var before = rows.Count;
            rows.AddRange(claimed.Where(r => executions.Contains(r.ExecutionId) && taken.Add(r.EventId)));
            if (rows.Count > before)
                deadline = DateTime.UtcNow.AddSeconds(60);
            var (marked, markBody) = await Client.MarkPublishedAsync(claimed.Select(r => r.OutboxId));
            NoEtlClient.Ensure(marked, markBody, "mark-published");
        }
        return rows;
    }

    /// <summary>
    /// Acknowledges every outbox row still pending (re-notifications of an earlier scenario's unclaimed commands), so
    /// that a phase that reads the outbox starts on an empty one and does not count another scenario's rows.
    /// </summary>
    public async Task DrainOutboxAsync()
    {
        var drained = 0;
        while (true)
        {
            var (status, claimed, body) = await Client.ClaimOutboxAsync(1000, 0);
            NoEtlClient.Ensure(status, body, "outbox claim");
            if (claimed.Count == 0)
                break;
            var (marked, markBody) = await Client.MarkPublishedAsync(claimed.Select(r => r.OutboxId));
            NoEtlClient.Ensure(marked, markBody, "mark-published");
            drained += claimed.Count;
        }
        if (drained > 0)
            Log($"drained {drained} pending outbox rows of earlier scenarios");
    }

    /// <summary>
    /// Cancels a scenario's executions once it is done: their unfinished commands would otherwise be notified again
    /// by the command reaper (a new outbox row each) in the middle of later scenarios.
    /// </summary>
    public async Task CancelAllAsync(IEnumerable<long> executions)
    {
        var queue = new ConcurrentQueue<long>(executions);
        await Task.WhenAll(Enumerable.Range(0, Options.Workers).Select(async _ =>
        {
            while (queue.TryDequeue(out var id))
            {
                var (status, body) = await Client.CancelAsync(id);
                if (status is not (HttpStatusCode.OK or HttpStatusCode.Conflict))
                    throw new InvalidOperationException($"cancel {id} failed: {(int)status} {body}");
            }
        }));
    }

    /// <summary>Starts <paramref name="count"/> executions of <paramref name="path"/>, <see cref="BenchOptions.Workers"/> at a time.</summary>
    public async Task<HashSet<long>> ExecuteManyAsync(string path, int count)
    {
        var ids = new HashSet<long>();
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, Options.Workers).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= count)
            {
                var (status, id, body) = await Client.ExecuteAsync(path);
                NoEtlClient.Ensure(status, body, $"execute {path}");
                lock (ids)
                    ids.Add(id!.Value);
            }
        }));
        return ids;
    }
}
