using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests.Faults;

/// <summary>
/// Simulated workers speaking the worker protocol over HTTP (claim, <c>command.started</c>, <c>call.done</c>,
/// <c>command.completed</c>), spread over every gateway. Each worker owns a fixed share of the executions, so
/// after a failure it claims the same command again (a repeat claim is granted to its holder) and re-posts events
/// (the server de-duplicates them): the ledger then shows whether anything was lost or applied twice.
/// Failures (503, timeouts, refused connections) are recorded with their time, never fatal; so is every call's
/// latency (failed calls included: a call lost with a silo counts with the time its worker waited).
/// </summary>
public sealed class LoadDriver(IReadOnlyList<HttpClient> gateways, TimeSpan toolTime)
{
    private static readonly HashSet<string> Terminal = ["playbook.completed", "playbook.failed", "workflow.completed", "workflow.failed", "execution.cancelled"];

    private readonly ConcurrentQueue<DateTime> _errors = new();
    private readonly ConcurrentQueue<(DateTime At, TimeSpan Latency)> _calls = new();
    private int _turn;

    public IEnumerable<DateTime> Errors => _errors;

    /// <summary>Every call: when it started and how long its worker waited for the answer (or the failure).</summary>
    public IEnumerable<(DateTime At, TimeSpan Latency)> Calls => _calls;

    public int ErrorCount => _errors.Count;

    /// <summary>Starts executions (retrying refusals), spread over the gateways.</summary>
    public async Task<List<long>> StartExecutionsAsync(string path, int count, int parallelism = 16)
    {
        var ids = new ConcurrentBag<long>();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = parallelism },
            async (i, _) => ids.Add((await StartOneAsync(path, i, DateTime.MaxValue))!.Value));
        return [.. ids];
    }

    /// <summary>
    /// A time-based load: each of <paramref name="workers"/> workers starts an execution, drives it to its end and
    /// starts the next, until <paramref name="duration"/> is over; executions under way then get until
    /// <paramref name="drain"/> more to finish. Answers every execution started.
    /// </summary>
    public async Task<List<long>> RunForAsync(string path, int workers, TimeSpan duration, TimeSpan drain)
    {
        var ids = new ConcurrentBag<long>();
        var stopStarting = DateTime.UtcNow + duration;
        var deadline = stopStarting + drain;
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async worker =>
        {
            var workerId = $"sim-worker-{worker}";
            for (var round = 0; DateTime.UtcNow < stopStarting; round++)
            {
                if (await StartOneAsync(path, worker * 100_000 + round, deadline) is not { } executionId)
                    return;
                ids.Add(executionId);
                while (DateTime.UtcNow < deadline)
                {
                    var (terminal, worked) = await StepAsync(executionId, workerId);
                    if (terminal)
                        break;
                    if (!worked)
                        await Task.Delay(50);
                }
            }
        }));
        return [.. ids];
    }

    /// <summary>Starts one execution, retrying refusals until the deadline (null once it passed).</summary>
    private async Task<long?> StartOneAsync(string path, int index, DateTime deadline)
    {
        // Each attempt goes to the next gateway: a worker given a list of server URLs fails over to a live one.
        for (var attempt = 0; DateTime.UtcNow < deadline; attempt++)
        {
            var gateway = gateways[(index + attempt) % gateways.Count];
            var response = await TryAsync(() => gateway.Post("/api/execute", new { path, workload = new { index }, resource_kind = "playbook" }));
            if (response?.Status == HttpStatusCode.OK)
                return long.Parse(response.Json["execution_id"]!.GetValue<string>());
            await Task.Delay(200);
        }
        return null;
    }

    /// <summary>Drives every execution to a terminal state with <paramref name="workers"/> workers, or until the deadline.</summary>
    public async Task RunAsync(IReadOnlyList<long> executions, int workers, DateTime deadline)
    {
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async worker =>
        {
            var mine = executions.Where((_, index) => index % workers == worker).ToList();
            var workerId = $"sim-worker-{worker}";
            while (mine.Count > 0 && DateTime.UtcNow < deadline)
            {
                var progressed = false;
                foreach (var executionId in mine.ToList())
                {
                    var (terminal, worked) = await StepAsync(executionId, workerId);
                    progressed |= worked;
                    if (terminal)
                        mine.Remove(executionId);
                }
                if (!progressed)
                    await Task.Delay(100);
            }
        }));
    }

    /// <summary>One look at an execution: claims and runs every command not finished yet.</summary>
    private async Task<(bool Terminal, bool Worked)> StepAsync(long executionId, string workerId)
    {
        // Each look goes through the next gateway: no gateway needs to know where an execution lives.
        var http = gateways[(int)((uint)Interlocked.Increment(ref _turn) % gateways.Count)];
        var detail = await TryAsync(() => http.Get($"/api/executions/{executionId}?page_size=500"));
        if (detail?.Status != HttpStatusCode.OK)
            return (false, false);
        var events = detail.Json["events"]!.AsArray();
        if (events.Any(e => Terminal.Contains(e!["event_type"]!.GetValue<string>())))
            return (true, false);
        var finished = events.Where(e => e!["event_type"]!.GetValue<string>() is "command.completed" or "command.failed")
            .Select(e => e!["meta"]?["command_id"] is { } id ? id.Id() : (long?)null).ToHashSet();
        var pending = events.Where(e => e!["event_type"]!.GetValue<string>() == "command.issued" && !finished.Contains(e["meta"]!["command_id"].Id()))
            .Select(e => (EventId: e!["event_id"].Id(), CommandId: e["meta"]!["command_id"].Id(), Step: e["node_name"]!.GetValue<string>()))
            .ToList();
        var worked = false;
        foreach (var (eventId, commandId, step) in pending)
        {
            var claim = await TryAsync(() => http.Claim(eventId, workerId));
            // 409 active_claim naming this worker: it already holds the command (an earlier answer was lost), so it
            // goes on reporting; the server de-duplicates events it already has.
            var held = claim?.Status == HttpStatusCode.Conflict && claim.Body?["detail"]?["worker_id"]?.GetValue<string>() == workerId;
            if (claim?.Status != HttpStatusCode.OK && !held)
                continue;
            if (toolTime > TimeSpan.Zero)
                await Task.Delay(toolTime);
            worked = await PostAsync(http, executionId, step, "command.started", new JsonObject { ["command_id"] = commandId }, workerId)
                && await PostAsync(http, executionId, step, "call.done", new JsonObject
                {
                    ["command_id"] = commandId,
                    ["result"] = new JsonObject { ["status"] = "COMPLETED", ["context"] = new JsonObject { ["step"] = step } },
                }, workerId)
                && await PostAsync(http, executionId, step, "command.completed", new JsonObject
                {
                    ["command_id"] = commandId,
                    ["result"] = new JsonObject { ["status"] = "COMPLETED" },
                }, workerId);
        }
        return (false, worked);
    }

    private async Task<bool> PostAsync(HttpClient http, long executionId, string step, string name, JsonObject payload, string workerId)
    {
        var response = await TryAsync(() => http.Event(executionId, step, name, payload, workerId));
        return response?.Status == HttpStatusCode.OK;
    }

    /// <summary>Runs a call; a 5xx or a transport failure is recorded and answers null.</summary>
    private async Task<ApiResponse?> TryAsync(Func<Task<ApiResponse>> call)
    {
        var started = DateTime.UtcNow;
        try
        {
            var response = await call();
            if ((int)response.Status >= 500)
            {
                _errors.Enqueue(DateTime.UtcNow);
                return null;
            }
            return response;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException)
        {
            _errors.Enqueue(DateTime.UtcNow);
            return null;
        }
        finally
        {
            _calls.Enqueue((started, DateTime.UtcNow - started));
        }
    }
}
