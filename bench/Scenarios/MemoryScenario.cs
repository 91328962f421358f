using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Bench.Harness;

namespace NoEtl.Bench.Scenarios;

/// <summary>
/// Silo memory per active execution: the managed heap after a forced full collection (<c>/diagnostics/memory</c>),
/// before and after. (a) After a warm-up, N five-step executions, each taken through its first step (a small result), so each holds a
/// finished command and the issued, unclaimed command of step two; the difference divided by N. (b) One execution of a
/// loop over L items (8 in flight) followed by a last step: the heap as iterations finish, so the growth per finished
/// iteration up to the loop's end (its last step issued). (c) Between the two, the re-activation cost: a sample of the
/// mid-flight executions is called while active, then every one of them is deactivated (the heap once they are gone)
/// and the sample called again, each first call rebuilding its execution from the log.
/// </summary>
public sealed class MemoryScenario : IScenario
{
    private const string Worker = "bench-memory";

    /// <summary>What step one returns: a modest result that later steps' render contexts carry.</summary>
    private const string StepResult = """{"status": "COMPLETED", "context": {"rows": 3, "message": "a result of moderate size, as a noop step would hand back", "ok": true}}""";

    /// <summary>Executions called before and after their deactivation: a few hundred, one after the other.</summary>
    private const int ReactivationSample = 300;

    /// <summary>Executions taken mid-flight and cancelled before the first measurement.</summary>
    private const int WarmUpExecutions = 100;

    public string Name => "memory";

    public async Task RunAsync(ScenarioContext context)
    {
        var siloUrls = context.System.SiloUrls;
        if (siloUrls.Count == 0)
        {
            context.Log("memory: needs a system of its own (the silo's /diagnostics/memory); skipped");
            return;
        }
        await context.Client.RegisterAsync(Playbooks.FiveStepsYaml);
        await context.Client.RegisterAsync(Playbooks.LongLoopYaml(context.Options.LoopIterations));
        // Earlier scenarios' executions would be collected as idle in the middle of a measurement (Orleans' collection
        // age), releasing megabytes between two checkpoints: they go first.
        await context.Client.DeactivateAllAsync(siloUrls[0]);
        var settled = await DeactivatedAsync(context, siloUrls, activations: 0, label: null);
        context.Log($"memory: earlier executions deactivated, {settled.ExecutionActivations} still active");
        HashSet<long> executions = [];
        await context.PhaseAsync(Name, "five-step, mid-flight", () => FiveStepsAsync(context, siloUrls, executions), warmupSeconds: 0);
        await context.PhaseAsync(Name, "re-activation", () => ReactivationAsync(context, siloUrls, executions), warmupSeconds: 0);
        await context.CancelAllAsync(executions);
        await context.PhaseAsync(Name, $"loop of {context.Options.LoopIterations}", () => LoopAsync(context, siloUrls), warmupSeconds: 0);
    }

    /// <summary>Starts the executions into <paramref name="executions"/> and leaves them mid-flight for the next phase.</summary>
    private async Task<Measurement> FiveStepsAsync(ScenarioContext context, IReadOnlyList<string> siloUrls, HashSet<long> executions)
    {
        var count = context.Options.MemoryExecutions;
        var measurement = new Measurement(Name, "five-step, mid-flight", 0, "KB per active execution");
        // The silo's caches that fill once (the redactor's regex automata, metric points, …) are not a cost per execution.
        await context.CancelAllAsync(await MidFlightAsync(context, Math.Min(count, WarmUpExecutions), measurement));
        var before = await MeasureAsync(context, siloUrls, "five-step-before");
        executions.UnionWith(await MidFlightAsync(context, count, measurement));
        var after = await MeasureAsync(context, siloUrls, "five-step-after");

        var perExecution = (after.ManagedBytes - before.ManagedBytes) / 1024.0 / count;
        measurement = measurement with { Value = perExecution };
        measurement.Target("≤ 20 KB per active five-step execution", perExecution, 20, atLeast: false, "KB");
        measurement.Note = $"{count} executions, each after step one with step two issued (after {Math.Min(count, WarmUpExecutions)} others as a warm-up): "
            + $"managed heap {Mib(before.ManagedBytes)} → {Mib(after.ManagedBytes)} MiB, working set {Mib(before.WorkingSetBytes)} → "
            + $"{Mib(after.WorkingSetBytes)} MiB, execution activations {before.ExecutionActivations} → {after.ExecutionActivations}";
        return measurement;
    }

    /// <summary><paramref name="count"/> five-step executions taken through step one, with step two issued: their ids.</summary>
    private static async Task<HashSet<long>> MidFlightAsync(ScenarioContext context, int count, Measurement measurement)
    {
        var executions = await context.ExecuteManyAsync(Playbooks.FiveSteps, count);
        var queue = new ConcurrentQueue<OutboxRow>(await context.CollectCommandsAsync(executions, count));
        await Task.WhenAll(Enumerable.Range(0, context.Options.Workers).Select(async _ =>
        {
            while (queue.TryDequeue(out var row))
                await RunCommandAsync(context.Client, row.EventId, StepResult, measurement);
        }));
        await context.CollectCommandsAsync(executions, count);
        return executions;
    }

    /// <summary>
    /// First calls (<c>GET /api/executions/{id}/status</c>, which the execution's grain answers) to a sample of the
    /// mid-flight executions while active, then after all of them were deactivated: each of the latter activates the
    /// grain, which reads the execution's log and rebuilds it before answering.
    /// </summary>
    private async Task<Measurement> ReactivationAsync(ScenarioContext context, IReadOnlyList<string> siloUrls, HashSet<long> executions)
    {
        var measurement = new Measurement(Name, "re-activation", 0, "ms p50, first call after deactivation");
        var sample = executions.Take(ReactivationSample).ToList();
        var active = await StatusCallsAsync(context.Client, sample, measurement);
        var activeMemory = await MeasureAsync(context, siloUrls, label: null);
        foreach (var chunk in executions.Chunk(1000))
            await context.Client.DeactivateAsync(siloUrls[0], chunk);
        var deactivated = await DeactivatedAsync(context, siloUrls, activeMemory.ExecutionActivations - executions.Count, "deactivated");
        var reactivated = await StatusCallsAsync(context.Client, sample, measurement);
        var afterwards = await MeasureAsync(context, siloUrls, label: null);

        var latency = reactivated.Percentiles();
        measurement = measurement with { Value = latency.P50 };
        measurement.Latency("status, re-activated", reactivated).Latency("status, active", active).ErrorsOf(active, reactivated);
        measurement.Note = $"{sample.Count} executions called one after the other; all {executions.Count} deactivated: managed heap "
            + $"{Mib(activeMemory.ManagedBytes)} → {Mib(deactivated.ManagedBytes)} MiB, working set {Mib(activeMemory.WorkingSetBytes)} → "
            + $"{Mib(deactivated.WorkingSetBytes)} MiB, execution activations {activeMemory.ExecutionActivations} → {deactivated.ExecutionActivations} "
            + $"→ {afterwards.ExecutionActivations} after the sample's calls";
        return measurement;
    }

    /// <summary>
    /// The silo once no more than <paramref name="activations"/> executions are active, or once their number stopped
    /// falling (deactivation is asynchronous, and a reminder or the orphaned-command watch may wake some meanwhile).
    /// </summary>
    private static async Task<SiloMemory> DeactivatedAsync(ScenarioContext context, IReadOnlyList<string> siloUrls, int activations, string? label)
    {
        var previous = int.MaxValue;
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (true)
        {
            var memory = await MeasureAsync(context, siloUrls, label: null);
            if (memory.ExecutionActivations <= Math.Max(0, activations) || memory.ExecutionActivations >= previous)
                return await MeasureAsync(context, siloUrls, label);
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{memory.ExecutionActivations} executions still active after 5 minutes, expected {activations}");
            previous = memory.ExecutionActivations;
            await Task.Delay(1000);
        }
    }

    private static async Task<Recorder> StatusCallsAsync(NoEtlClient client, List<long> sample, Measurement measurement)
    {
        var recorder = new Recorder(0, 3600);
        foreach (var execution in sample)
        {
            var started = Stopwatch.GetTimestamp();
            var (status, body) = await client.GetAsync($"/api/executions/{execution}/status");
            if (status == HttpStatusCode.OK)
                recorder.Success(started);
            else
                recorder.Error($"status {execution}", status, body);
        }
        recorder.EndNow();
        return recorder;
    }

    private async Task<Measurement> LoopAsync(ScenarioContext context, IReadOnlyList<string> siloUrls)
    {
        var iterations = context.Options.LoopIterations;
        var phase = $"loop of {iterations}";
        var measurement = new Measurement(Name, phase, 0, "KB per finished iteration");
        var before = (await MeasureAsync(context, siloUrls, "loop-before")).ManagedBytes;
        var (status, id, body) = await context.Client.ExecuteAsync(Playbooks.LongLoop);
        NoEtlClient.Ensure(status, body, "execute long loop");
        var execution = id!.Value;
        var checkpoints = new Queue<int>([iterations / 4, iterations / 2, iterations * 3 / 4]);
        var heapAt = new List<(int Finished, long Bytes)>();
        var finished = 0;
        var lastIssued = false;
        var result = new JsonObject
        {
            ["status"] = "COMPLETED",
            ["context"] = context.Options.LoopResultBytes == 0
                ? new JsonObject { ["ok"] = true }
                : new JsonObject { ["ok"] = true, ["pad"] = new string('x', context.Options.LoopResultBytes) },
        }.ToJsonString();
        // A long loop on a loaded machine (and a heap dump per checkpoint) takes long: only a stall is a failure.
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!lastIssued)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"long loop: {finished} of {iterations} iterations, none in the last 2 minutes");
            var rows = await TakeCommandsAsync(context.Client, execution);
            var commands = new List<Task>();
            foreach (var row in rows)
            {
                if (row.Step == Playbooks.LongLoopLastStep)
                    lastIssued = true;
                else
                    commands.Add(RunCommandAsync(context.Client, row.EventId, result, measurement));
            }
            await Task.WhenAll(commands);
            finished += commands.Count;
            if (commands.Count > 0)
                deadline = DateTime.UtcNow.AddMinutes(2);
            if (checkpoints.TryPeek(out var next) && finished >= next)
            {
                checkpoints.Dequeue();
                heapAt.Add((finished, (await MeasureAsync(context, siloUrls, $"loop-{finished}")).ManagedBytes));
            }
        }
        var after = (await MeasureAsync(context, siloUrls, $"loop-{finished}")).ManagedBytes;
        heapAt.Add((finished, after));
        await context.CancelAllAsync([execution]);

        var (firstFinished, firstBytes) = heapAt[0];
        var growth = finished > firstFinished ? (after - firstBytes) / (double)(finished - firstFinished) : 0;
        // The slope between checkpoints, not the total: what other executions of the run release meanwhile shifts both ends alike.
        measurement = measurement with { Value = growth / 1024.0 };
        measurement.Note = $"{finished} iterations finished, last step issued; managed heap after "
            + string.Join(", ", heapAt.Select(h => $"{h.Finished}: {Mib(h.Bytes)} MiB")) + $" (before the execution: {Mib(before)} MiB)";
        return measurement;
    }

    /// <summary>
    /// The silo's memory (after a forced full collection) and, with <c>--heap-dump</c> and a <paramref name="label"/>, a
    /// heap dump of it next to the figure: the dumps' live objects by type explain the difference between two measurements.
    /// </summary>
    /// <summary>
    /// The silos' memory added up (execution activations are the cluster's, as every silo reports them), with a heap
    /// dump of each silo when <c>--heap-dump</c> asks for them and <paramref name="label"/> names the measurement.
    /// </summary>
    private static async Task<SiloMemory> MeasureAsync(ScenarioContext context, IReadOnlyList<string> siloUrls, string? label)
    {
        var silos = new List<SiloMemory>();
        foreach (var siloUrl in siloUrls)
            silos.Add(await context.Client.SiloMemoryAsync(siloUrl));
        var memory = new SiloMemory(silos.Sum(m => m.ManagedBytes), silos.Sum(m => m.WorkingSetBytes), silos[0].ExecutionActivations);
        if (label is null || context.Options.HeapDumpDirectory is not { } directory)
            return memory;
        Directory.CreateDirectory(directory);
        foreach (var (pid, number) in context.System.SiloPids.Select((pid, index) => (pid, index + 1)))
        {
            var path = Path.Combine(directory, context.System.SiloPids.Count == 1 ? $"memory-{label}.dmp" : $"memory-{label}-silo-{number}.dmp");
            var start = new ProcessStartInfo("dotnet-dump") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "collect", "--type", "Heap", "-p", pid.ToString(), "-o", path })
                start.ArgumentList.Add(argument);
            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"dotnet-dump collect -p {pid} failed:\n{output}");
            context.Log($"memory: heap dump {path}");
        }
        context.Log($"memory: {label}: managed heap {Mib(memory.ManagedBytes)} MiB");
        return memory;
    }

    private static string Mib(long bytes) => (bytes / 1024.0 / 1024).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The execution's notifications waiting in the outbox, each with its step (from the claim-free outbox payload).</summary>
    private static async Task<List<(long EventId, string Step)>> TakeCommandsAsync(NoEtlClient client, long execution)
    {
        var (status, rows, body) = await client.ClaimOutboxAsync(100, 500);
        NoEtlClient.Ensure(status, body, "outbox claim");
        if (rows.Count == 0)
            return [];
        var (marked, markBody) = await client.MarkPublishedAsync(rows.Select(r => r.OutboxId));
        NoEtlClient.Ensure(marked, markBody, "mark-published");
        return [.. rows.Where(r => r.ExecutionId == execution).Select(r => (r.EventId, r.Step))];
    }

    /// <summary>claim → command.started → call.done (with <paramref name="result"/>) → command.completed, as a worker would.</summary>
    private static async Task RunCommandAsync(NoEtlClient client, long eventId, string result, Measurement measurement)
    {
        var (status, claimed, body) = await client.ClaimAsync(eventId, Worker);
        if (claimed is not { } command)
        {
            lock (measurement)
                measurement.Fail($"claim {eventId}: {(int)status} {body}");
            return;
        }
        foreach (var (name, payload) in new[]
        {
            ("command.started", $$"""{"command_id": {{command.CommandId}}}"""),
            ("call.done", $$"""{"command_id": {{command.CommandId}}, "result": {{result}}}"""),
            ("command.completed", $$"""{"command_id": {{command.CommandId}}, "result": {"status": "COMPLETED"} }"""),
        })
        {
            var (eventStatus, _, eventBody) = await client.EventAsync(command.ExecutionId, command.Step, name, payload, Worker);
            if (eventStatus != HttpStatusCode.OK)
            {
                lock (measurement)
                    measurement.Fail($"{name} {command.Step}: {(int)eventStatus} {eventBody}");
                return;
            }
        }
    }
}
