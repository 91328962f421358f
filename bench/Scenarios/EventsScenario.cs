using System.Diagnostics;
using System.Net;
using NoEtl.Bench.Harness;

namespace NoEtl.Bench.Scenarios;

/// <summary>
/// Durable event ingest. Each of N workers holds the claimed command of its own execution (so no two requests
/// queue on one execution grain) and posts <c>command.heartbeat</c> events with <c>actionable:false</c> and a
/// payload of about 400 bytes. The heartbeat is chosen because it is never deduplicated (a repeated
/// <c>call.done</c> for one command is answered with the first event and writes nothing) and runs no engine turn:
/// every 200 is exactly one new <c>noetl.event</c> row plus the <c>noetl.execution</c> projection update, committed
/// before the response. With a batch size above 1 the worker posts that many events per <c>/api/events/batch</c>
/// request (one transaction for all of them).
/// </summary>
public sealed class EventsScenario : IScenario
{
    public string Name => "events";

    /// <summary>A worker progress report: the size of a typical envelope (~400 B with the request fields).</summary>
    public static string Payload(long commandId) =>
        $$"""{"command_id": {{commandId}}, "progress": {"phase": "fetch", "rows": 1234, "pages": 7, "message": "fetched page 7 of 12 from https://api.example.com/v1/patients?page=7&page_size=500 in 85 ms"} }""";

    public async Task RunAsync(ScenarioContext context)
    {
        var workers = context.Options.Workers;
        await context.Client.RegisterAsync(Playbooks.OneStepYaml);
        var executions = await context.ExecuteManyAsync(Playbooks.OneStep, workers);
        var commands = await context.CollectCommandsAsync(executions, workers);
        var held = new List<(long ExecutionId, long CommandId, string Worker)>();
        foreach (var (row, i) in commands.Select((r, i) => (r, i)))
        {
            var worker = $"bench-events-{i}";
            var (status, claimed, body) = await context.Client.ClaimAsync(row.EventId, worker);
            NoEtlClient.Ensure(status, body, "claim");
            held.Add((claimed!.Value.ExecutionId, claimed.Value.CommandId, worker));
        }

        var acknowledged = 0L;
        foreach (var batch in context.Options.EventBatches)
        {
            var phase = batch == 1 ? "1 event/request" : $"{batch} events/request (batch)";
            await context.PhaseAsync(Name, phase, async () =>
            {
                var recorder = context.NewRecorder();
                await Task.WhenAll(held.Select(h => PostLoop(context.Client, recorder, h.ExecutionId, h.CommandId, h.Worker, batch)));
                var measurement = new Measurement(Name, phase, recorder.PerSecond, "events/s").Latency("request", recorder).ErrorsOf(recorder);
                // Durability check: every acknowledged event is a row in noetl.event, and nothing else was written.
                acknowledged += recorder.AllSuccesses;
                var stored = await CountHeartbeatsAsync(context, executions);
                measurement.Note = $"{workers} workers, each on its own execution; durability check: {acknowledged} events acknowledged so far, {stored} rows in noetl.event";
                if (stored != acknowledged)
                    measurement.Fail($"durability check: {acknowledged} events acknowledged but {stored} rows in noetl.event");
                var baseline = context.Baseline(batch) ?? context.Baseline(1);
                if (baseline is not null)
                {
                    measurement.Ratio = measurement.Value / baseline.Value;
                    measurement.RatioAgainst = $"baseline {baseline.Phase}";
                }
                var p99 = measurement.Latencies[0].Latency.P99;
                if (batch == 1)
                {
                    measurement.Target("≥ 2,000 durable events/s", measurement.Value, 2000, atLeast: true, "events/s")
                        .Target("p99 ≤ 50 ms", p99, 50, atLeast: false, "ms");
                    if (measurement.Ratio is { } ratio && baseline!.Phase == BaselineScenario.PhaseName(1))
                        measurement.Target("≥ 1.0× single-row baseline", ratio, 1.0, atLeast: true, "×");
                }
                else if (batch >= 10)
                {
                    measurement.Target("stretch: ≥ 5,000 events/s with ≥ 10-event batches", measurement.Value, 5000, atLeast: true, "events/s");
                }
                return measurement;
            });
        }
        await context.CancelAllAsync(executions);
    }

    /// <summary>Heartbeats of this scenario's executions only: a history fill (or an earlier pass) holds millions of others.</summary>
    private static async Task<long> CountHeartbeatsAsync(ScenarioContext context, IReadOnlyCollection<long> executions)
    {
        await using var command = context.Admin.CreateCommand(
            "SELECT count(*) FROM noetl.event WHERE execution_id = ANY($1) AND event_type = 'command.heartbeat'");
        command.Parameters.AddWithValue(executions.ToArray());
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task PostLoop(NoEtlClient client, Recorder recorder, long executionId, long commandId, string worker, int batch)
    {
        var payload = Payload(commandId);
        var events = "[" + string.Join(',', Enumerable.Repeat(
            $$"""{"step":"start","name":"command.heartbeat","payload":{{payload}},"actionable":false}""", batch)) + "]";
        while (recorder.Running)
        {
            var started = Stopwatch.GetTimestamp();
            if (batch == 1)
            {
                var (status, _, body) = await client.EventAsync(executionId, "start", "command.heartbeat", payload, worker, actionable: false);
                if (status == HttpStatusCode.OK)
                    recorder.Success(started);
                else
                    recorder.Error("event", status, body);
            }
            else
            {
                var (status, body) = await client.EventBatchAsync(executionId, worker, events);
                if (status == HttpStatusCode.Accepted)
                    recorder.Success(started, batch);
                else
                    recorder.Error("event batch", status, body);
            }
        }
    }
}
