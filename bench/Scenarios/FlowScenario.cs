using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using NoEtl.Bench.Harness;

namespace NoEtl.Bench.Scenarios;

/// <summary>
/// Five-step executions end to end, M at a time: <c>execute</c>, then for each step the command reaches a worker
/// through the internal outbox API (long-poll claim, the path a NATS publisher takes) and the worker claims it and
/// posts <c>command.started → call.done → command.completed</c> like the Rust worker. An execution is done when
/// the last step's <c>command.completed</c> is acknowledged; the loop then starts the next one.
/// Issued→claimed runs from the millisecond in the <c>command.issued</c> event id (a snowflake taken by the silo
/// on this host's clock, before the commit) to the claim's 200 at the worker.
/// </summary>
public sealed class FlowScenario : IScenario
{
    /// <summary>execute + 5 × (claim, started, call.done, completed): each is one durable transaction.</summary>
    private const int TransactionsPerExecution = 1 + 4 * 5;

    private const long SnowflakeEpochMs = 1704067200000;

    public string Name => "flow";

    public async Task RunAsync(ScenarioContext context)
    {
        await context.Client.RegisterAsync(Playbooks.FiveStepsYaml);
        var light = context.Options.FlowInFlight.Min();
        var heavy = context.Options.FlowInFlight.Max();
        foreach (var inFlight in context.Options.FlowInFlight)
        {
            var phase = $"{inFlight} in flight";
            await context.DrainOutboxAsync();
            await context.PhaseAsync(Name, phase, async () =>
            {
                var executions = context.NewRecorder();
                var dispatch = executions.Sibling();
                var delivery = executions.Sibling();
                await new Run(context.Client, executions, dispatch, delivery).ExecuteAsync(inFlight);
                var measurement = new Measurement(Name, phase, executions.PerSecond, "executions/s")
                    .Latency("issued→claimed", dispatch).Latency("issued→outbox delivery", delivery).Latency("execution", executions)
                    .ErrorsOf(executions, dispatch);
                var issued = measurement.Latencies[0].Latency;
                if (inFlight == light)
                    measurement.Target("issued→claimed p50 ≤ 25 ms (unsaturated)", issued.P50, 25, atLeast: false, "ms")
                        .Target("issued→claimed p99 ≤ 100 ms (unsaturated)", issued.P99, 100, atLeast: false, "ms");
                if (inFlight == heavy)
                    measurement.Target("≥ 150 five-step executions/s", measurement.Value, 150, atLeast: true, "executions/s");
                measurement.Note = $"{TransactionsPerExecution} durable transactions per execution = {measurement.Value * TransactionsPerExecution:0} tx/s";
                if (context.Baseline(1) is { } baseline)
                {
                    measurement.Ratio = measurement.Value * TransactionsPerExecution / baseline.Value;
                    measurement.RatioAgainst = "baseline 1 row/tx (transactions/s)";
                }
                return measurement;
            });
        }
    }

    /// <summary>One phase: M execution loops, two outbox pollers, one task per delivered command.</summary>
    private sealed class Run(NoEtlClient client, Recorder executions, Recorder dispatch, Recorder delivery)
    {
        private readonly ConcurrentDictionary<long, TaskCompletionSource<bool>> _finished = new();
        private readonly ConcurrentBag<Task> _commands = [];

        public async Task ExecuteAsync(int inFlight)
        {
            using var stop = new CancellationTokenSource();
            // Two pollers, so one is always waiting in the long-poll while the other hands out its rows.
            var pollers = Enumerable.Range(0, 2).Select(_ => PollAsync(stop.Token)).ToList();
            await Task.WhenAll(Enumerable.Range(0, inFlight).Select(_ => ExecutionLoop()));
            await stop.CancelAsync();
            await Task.WhenAll(pollers);
            await Task.WhenAll(_commands);
        }

        private async Task ExecutionLoop()
        {
            while (executions.Running)
            {
                var started = Stopwatch.GetTimestamp();
                var (status, id, body) = await client.ExecuteAsync(Playbooks.FiveSteps);
                if (id is null)
                {
                    executions.Error("execute", status, body);
                    await Task.Delay(100);
                    continue;
                }
                var finished = Finished(id.Value).Task;
                if (await Task.WhenAny(finished, Task.Delay(TimeSpan.FromSeconds(60))) != finished)
                    executions.Error("execution", HttpStatusCode.RequestTimeout, $"{id} did not finish within 60 s");
                else if (await finished)
                    executions.Success(started);
                _finished.TryRemove(id.Value, out _);
            }
        }

        private async Task PollAsync(CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                var (status, rows, body) = await client.ClaimOutboxAsync(1000, 200);
                if (status != HttpStatusCode.OK)
                {
                    dispatch.Error("outbox claim", status, body);
                    await Task.Delay(100, CancellationToken.None);
                    continue;
                }
                if (rows.Count == 0)
                    continue;
                foreach (var row in rows)
                {
                    delivery.SampleSinceUnixMs(IssuedUnixMs(row));
                    _commands.Add(Task.Run(() => RunCommandAsync(row)));
                }
                var (marked, markBody) = await client.MarkPublishedAsync(rows.Select(r => r.OutboxId));
                if (marked != HttpStatusCode.OK)
                    dispatch.Error("mark-published", marked, markBody);
            }
        }

        private async Task RunCommandAsync(OutboxRow row)
        {
            const string worker = "bench-flow";
            var (status, claimed, body) = await client.ClaimAsync(row.EventId, worker);
            if (claimed is not { } command)
            {
                Fail(row.ExecutionId, "claim", status, body);
                return;
            }
            dispatch.SampleSinceUnixMs(IssuedUnixMs(row));
            var last = command.Step == Playbooks.FiveStepNames[^1];
            var id = command.CommandId;
            foreach (var (name, payload, generated) in new[]
            {
                ("command.started", $$"""{"command_id": {{id}}}""", 0),
                ("call.done", $$"""{"command_id": {{id}}, "result": {"status": "COMPLETED", "context": {"step": "{{command.Step}}"} } }""", last ? 0 : 1),
                ("command.completed", $$"""{"command_id": {{id}}, "result": {"status": "COMPLETED"} }""", 0),
            })
            {
                var (eventStatus, commands, eventBody) = await client.EventAsync(command.ExecutionId, command.Step, name, payload, worker);
                if (eventStatus != HttpStatusCode.OK || commands != generated)
                {
                    Fail(row.ExecutionId, name, eventStatus, $"commands_generated {commands}, expected {generated}: {eventBody}");
                    return;
                }
            }
            if (last)
                Finished(command.ExecutionId).TrySetResult(true);
        }

        private void Fail(long executionId, string what, HttpStatusCode status, string body)
        {
            executions.Error(what, status, body);
            Finished(executionId).TrySetResult(false);
        }

        /// <summary>The millisecond in the snowflake id of the command.issued event (NoETL's app-side layout).</summary>
        private static long IssuedUnixMs(OutboxRow row) => (row.EventId >> 22) + SnowflakeEpochMs;

        private TaskCompletionSource<bool> Finished(long executionId) =>
            _finished.GetOrAdd(executionId, _ => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
    }
}
