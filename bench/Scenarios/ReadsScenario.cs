using System.Diagnostics;
using System.Net;
using System.Text.Json;
using NoEtl.Bench.Harness;
using NoEtl.Bench.History;

namespace NoEtl.Bench.Scenarios;

/// <summary>
/// What the GUI and CLI read while the system works: the first page of <c>GET /api/executions</c>, and the first page
/// of the detail of one long execution (a loop of <see cref="LongExecutionEvents"/> events, still running), from a
/// few concurrent readers. The figures that matter are the latencies, compared between empty and filled tables.
/// </summary>
public sealed class ReadsScenario : IScenario
{
    public const int LongExecutionEvents = 10_000;

    /// <summary>Concurrent readers: a handful of open GUIs and polling CLIs.</summary>
    private const int Readers = 4;

    private const int PageSize = 100;

    public string Name => "reads";

    public async Task RunAsync(ScenarioContext context)
    {
        var longExecution = await HistoryFill.LongExecutionAsync(context.Admin, LongExecutionEvents);
        var detail = $"/api/executions/{longExecution}?page=1&page_size={PageSize}";
        await CheckDetailAsync(context.Client, detail);

        await ReadPhaseAsync(context, $"execution list (page 1 of {PageSize})", $"/api/executions?page=1&page_size={PageSize}");
        await ReadPhaseAsync(context, $"execution detail ({LongExecutionEvents:#,0} events, page 1 of {PageSize})", detail);
    }

    private async Task ReadPhaseAsync(ScenarioContext context, string phase, string path) =>
        await context.PhaseAsync(Name, phase, async () =>
        {
            var recorder = context.NewRecorder();
            await Task.WhenAll(Enumerable.Range(0, Readers).Select(async _ =>
            {
                while (recorder.Running)
                {
                    var started = Stopwatch.GetTimestamp();
                    var (status, body) = await context.Client.GetAsync(path);
                    if (status == HttpStatusCode.OK)
                        recorder.Success(started);
                    else
                        recorder.Error("read", status, body);
                }
            }));
            var measurement = new Measurement(Name, phase, recorder.PerSecond, "reads/s").Latency("request", recorder).ErrorsOf(recorder);
            measurement.Note = $"{Readers} concurrent readers, GET {path}";
            return measurement;
        });

    /// <summary>The detail must page through the whole loop, or the phase would measure a smaller read than it says.</summary>
    private static async Task CheckDetailAsync(NoEtlClient client, string path)
    {
        var (status, body) = await client.GetAsync(path);
        NoEtlClient.Ensure(status, body, "execution detail");
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        var total = root.GetProperty("pagination").GetProperty("total_events").GetInt64();
        var page = root.GetProperty("events").GetArrayLength();
        if (total != LongExecutionEvents || page != PageSize)
            throw new InvalidOperationException($"execution detail: {total} events in total and {page} on page 1, expected {LongExecutionEvents} and {PageSize}");
    }
}
