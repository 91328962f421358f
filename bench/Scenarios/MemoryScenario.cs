using System.Collections.Concurrent;
using System.Net;
using NoEtl.Bench.Harness;

namespace NoEtl.Bench.Scenarios;

/// <summary>
/// Silo memory per active execution: the managed heap (of every silo, added up) after a forced full collection
/// (<c>/diagnostics/memory</c>), before and after. (a) N five-step executions, each taken through its first step (a
/// small result), so each holds a finished command and the issued, unclaimed command of step two; the difference
/// divided by N. (b) One execution of a loop over L items (8 in flight) followed by a last step: the heap as
/// iterations finish, so the growth per finished iteration up to the loop's end (its last step issued).
/// </summary>
public sealed class MemoryScenario : IScenario
{
    private const string Worker = "bench-memory";

    /// <summary>What step one returns: a modest result that later steps' render contexts carry.</summary>
    private const string StepResult = """{"status": "COMPLETED", "context": {"rows": 3, "message": "a result of moderate size, as a noop step would hand back", "ok": true}}""";

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
        await context.PhaseAsync(Name, "five-step, mid-flight", () => FiveStepsAsync(context, siloUrls), warmupSeconds: 0);
        await context.PhaseAsync(Name, $"loop of {context.Options.LoopIterations}", () => LoopAsync(context, siloUrls), warmupSeconds: 0);
    }

    private async Task<Measurement> FiveStepsAsync(ScenarioContext context, IReadOnlyList<string> siloUrls)
    {
        var count = context.Options.MemoryExecutions;
        var before = await context.Client.SiloHeapBytesAsync(siloUrls);
        var executions = await context.ExecuteManyAsync(Playbooks.FiveSteps, count);
        var measurement = new Measurement(Name, "five-step, mid-flight", 0, "KB per active execution");
        var first = await context.CollectCommandsAsync(executions, count);
        // A command still pending after a minute is notified again (the reaper), so a loaded run can see a row twice.
        var queue = new ConcurrentQueue<OutboxRow>(first.DistinctBy(r => r.EventId));
        await Task.WhenAll(Enumerable.Range(0, context.Options.Workers).Select(async _ =>
        {
            while (queue.TryDequeue(out var row))
                await RunCommandAsync(context.Client, row.EventId, StepResult, measurement);
        }));
        await context.CollectCommandsAsync(executions, count); // step two issued everywhere: the state being measured
        var after = await context.Client.SiloHeapBytesAsync(siloUrls);
        await context.CancelAllAsync(executions);

        var perExecution = (after - before) / 1024.0 / count;
        measurement = measurement with { Value = perExecution };
        measurement.Target("≤ 20 KB per active five-step execution", perExecution, 20, atLeast: false, "KB");
        measurement.Note = $"{count} executions, each after step one with step two issued: managed heap {before / 1024.0 / 1024:0.0} → {after / 1024.0 / 1024:0.0} MiB";
        return measurement;
    }

    private async Task<Measurement> LoopAsync(ScenarioContext context, IReadOnlyList<string> siloUrls)
    {
        var iterations = context.Options.LoopIterations;
        var phase = $"loop of {iterations}";
        var measurement = new Measurement(Name, phase, 0, "KB per finished iteration");
        var before = await context.Client.SiloHeapBytesAsync(siloUrls);
        var (status, id, body) = await context.Client.ExecuteAsync(Playbooks.LongLoop);
        NoEtlClient.Ensure(status, body, "execute long loop");
        var execution = id!.Value;
        var checkpoints = new Queue<int>([iterations / 4, iterations / 2, iterations * 3 / 4]);
        var heapAt = new List<(int Finished, long Bytes)>();
        var finished = 0;
        var lastIssued = false;
        var deadline = DateTime.UtcNow.AddMinutes(10);
        while (!lastIssued)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"long loop: {finished} of {iterations} iterations in 10 minutes");
            var rows = await TakeCommandsAsync(context.Client, execution);
            var commands = new List<Task>();
            foreach (var row in rows)
            {
                if (row.Step == Playbooks.LongLoopLastStep)
                    lastIssued = true;
                else
                    commands.Add(RunCommandAsync(context.Client, row.EventId, """{"status": "COMPLETED", "context": {"ok": true}}""", measurement));
            }
            await Task.WhenAll(commands);
            finished += commands.Count;
            if (checkpoints.TryPeek(out var next) && finished >= next)
            {
                checkpoints.Dequeue();
                heapAt.Add((finished, await context.Client.SiloHeapBytesAsync(siloUrls)));
            }
        }
        var after = await context.Client.SiloHeapBytesAsync(siloUrls);
        heapAt.Add((finished, after));
        await context.CancelAllAsync([execution]);

        var (firstFinished, firstBytes) = heapAt[0];
        var growth = finished > firstFinished ? (after - firstBytes) / (double)(finished - firstFinished) : 0;
        // The slope between checkpoints, not the total: what other executions of the run release meanwhile shifts both ends alike.
        measurement = measurement with { Value = growth / 1024.0 };
        measurement.Note = $"{finished} iterations finished, last step issued; managed heap after "
            + string.Join(", ", heapAt.Select(h => $"{h.Finished}: {h.Bytes / 1024.0 / 1024:0.0} MiB")) + $" (before the execution: {before / 1024.0 / 1024:0.0} MiB)";
        return measurement;
    }

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
