using System.Diagnostics;
using System.Net;
using NoEtl.Bench.Harness;

namespace NoEtl.Bench.Scenarios;

/// <summary>
/// The relay side of the transactional outbox: rows are written first (fan-out executions, one outbox row per
/// issued command), then a few publishers drain them through the internal API — claim up to B rows, then
/// mark-published — until none are left. The window ends when the outbox is empty, so the figure is the drain rate.
/// </summary>
public sealed class OutboxScenario : IScenario
{
    /// <summary>Publishers: the system pool runs a handful, not one per worker.</summary>
    private const int Publishers = 4;

    public string Name => "outbox";

    public async Task RunAsync(ScenarioContext context)
    {
        var options = context.Options;
        await context.Client.RegisterAsync(Playbooks.FanOutYaml);
        await context.DrainOutboxAsync();
        // Enough rows to drain for about the phase length at ~2,000 rows/s; the drain ends the window earlier if faster.
        var executionCount = (int)Math.Clamp(options.DurationSeconds * 2000 / Playbooks.FanOutWidth, 10, 400);
        var started = Stopwatch.GetTimestamp();
        var executions = await context.ExecuteManyAsync(Playbooks.FanOut, executionCount);
        context.Log($"outbox: wrote {executionCount * Playbooks.FanOutWidth} rows in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");

        var phase = $"{Publishers} publishers × {options.OutboxBatch} rows/claim";
        await context.PhaseAsync(Name, phase, async () =>
        {
            var claims = new Recorder(0, options.DurationSeconds);
            var marks = claims.Sibling();
            var rows = 0L;
            var empty = 0;
            await Task.WhenAll(Enumerable.Range(0, Publishers).Select(async _ =>
            {
                while (claims.Running && Volatile.Read(ref empty) == 0)
                {
                    var start = Stopwatch.GetTimestamp();
                    var (status, claimed, body) = await context.Client.ClaimOutboxAsync(options.OutboxBatch, 0);
                    if (status != HttpStatusCode.OK)
                    {
                        claims.Error("claim", status, body);
                        continue;
                    }
                    if (claimed.Count == 0)
                    {
                        Interlocked.Exchange(ref empty, 1);
                        break;
                    }
                    claims.Success(start);
                    start = Stopwatch.GetTimestamp();
                    var (marked, markBody) = await context.Client.MarkPublishedAsync(claimed.Select(r => r.OutboxId));
                    if (marked != HttpStatusCode.OK)
                    {
                        marks.Error("mark-published", marked, markBody);
                        continue;
                    }
                    marks.Success(start);
                    Interlocked.Add(ref rows, claimed.Count);
                }
            }));
            claims.EndNow();
            var perSecond = rows / claims.WindowSeconds;
            var measurement = new Measurement(Name, phase, perSecond, "rows published/s")
                .Latency("claim", claims).Latency("mark-published", marks).ErrorsOf(claims, marks)
                .Target("claim p99 ≤ 100 ms", claims.Percentiles().P99, 100, atLeast: false, "ms");
            measurement.Note = $"{rows} rows drained in {claims.WindowSeconds:0.0} s, {claims.Ok / claims.WindowSeconds:0} claims/s";
            if (context.Baseline(options.OutboxBatch) is { } baseline)
            {
                measurement.Ratio = perSecond / baseline.Value;
                measurement.RatioAgainst = $"baseline {baseline.Phase}";
            }
            return measurement;
        }, warmupSeconds: 0);
        await context.CancelAllAsync(executions);
    }
}
