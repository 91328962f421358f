using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using NoEtl.Bench.Harness;

namespace NoEtl.Bench.Scenarios;

/// <summary>
/// The command queue: commands are issued before the clock starts (fan-out executions of
/// <see cref="Playbooks.FanOutWidth"/> commands each, notifications taken from the outbox and shuffled so that
/// workers rarely meet on one execution), then N workers claim one and report it done with
/// <c>command.completed</c>, as fast as they can. Each command is two durable transactions: the claim and the completion.
/// </summary>
public sealed class ClaimsScenario : IScenario
{
    /// <summary>Commands to pre-issue per second of phase: more than the fastest rate seen, so workers never run dry.</summary>
    private const int CommandsPerSecond = 2_500;

    public string Name => "claims";

    public async Task RunAsync(ScenarioContext context)
    {
        var options = context.Options;
        await context.Client.RegisterAsync(Playbooks.FanOutYaml);
        var executionCount = (int)Math.Ceiling((options.WarmupSeconds + options.DurationSeconds) * CommandsPerSecond / Playbooks.FanOutWidth);
        var started = Stopwatch.GetTimestamp();
        var executions = await context.ExecuteManyAsync(Playbooks.FanOut, executionCount);
        var rows = await context.CollectCommandsAsync(executions, executionCount * Playbooks.FanOutWidth);
        context.Log($"claims: pre-issued {rows.Count} commands in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
        var queue = new ConcurrentQueue<long>(rows.Select(r => r.EventId).OrderBy(_ => Random.Shared.Next()));

        var phase = $"{options.Workers} workers";
        await context.PhaseAsync(Name, phase, async () =>
        {
            var claims = context.NewRecorder();
            var completions = claims.Sibling();
            await Task.WhenAll(Enumerable.Range(0, options.Workers).Select(i => WorkLoop(context.Client, queue, claims, completions, $"bench-claims-{i}")));
            if (queue.IsEmpty)
                claims.Error("pre-issued commands ran out before the window ended; the rate is understated", 0, "");
            var perSecond = claims.PerSecond + completions.PerSecond;
            var measurement = new Measurement(Name, phase, perSecond, "claims+completions/s")
                .Latency("claim", claims).Latency("completion", completions).ErrorsOf(claims, completions)
                .Target("≥ 1,000 claims + completions/s", perSecond, 1000, atLeast: true, "ops/s");
            measurement.Note = $"{completions.PerSecond:0} commands claimed and completed per second";
            var baseline = context.Baseline(1);
            if (baseline is not null)
            {
                measurement.Ratio = perSecond / baseline.Value;
                measurement.RatioAgainst = "baseline 1 row/tx (each op is one transaction)";
            }
            return measurement;
        });
        await context.CancelAllAsync(executions);
    }

    private static async Task WorkLoop(NoEtlClient client, ConcurrentQueue<long> queue, Recorder claims, Recorder completions, string worker)
    {
        while (claims.Running && queue.TryDequeue(out var eventId))
        {
            var started = Stopwatch.GetTimestamp();
            var (status, command, body) = await client.ClaimAsync(eventId, worker);
            if (status != HttpStatusCode.OK)
            {
                claims.Error("claim", status, body);
                continue;
            }
            claims.Success(started);
            started = Stopwatch.GetTimestamp();
            var (done, _, doneBody) = await client.EventAsync(command!.Value.ExecutionId, command.Value.Step, "command.completed",
                $$"""{"command_id": {{command.Value.CommandId}}, "result": {"status": "COMPLETED", "context": {"ok": true} } }""", worker);
            if (done == HttpStatusCode.OK)
                completions.Success(started);
            else
                completions.Error("command.completed", done, doneBody);
        }
    }
}
