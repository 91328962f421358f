using System.Net;
using System.Text.Json.Nodes;

namespace NoEtl.Integration.Tests.Infrastructure;

/// <summary>
/// Plays a NoETL worker over HTTP: finds issued commands, claims them and posts the worker's event sequence
/// (<c>command.started → call.done → command.completed</c>). The tool's result comes from a callback that sees
/// the claim response, so tests can check what the server rendered into each command.
/// </summary>
public sealed class SimulatedWorker(HttpClient http, string workerId)
{
    public List<JsonNode> Claims { get; } = [];

    /// <summary>Whether events echo the claim's <c>lease_token</c> (NoETL's own workers do not know it).</summary>
    public bool EchoLeaseToken { get; init; } = true;

    public async Task<JsonNode> RunToCompletionAsync(long executionId, Func<JsonNode, JsonObject> tool, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        var done = new HashSet<long>();
        JsonNode? status = null;
        while (DateTime.UtcNow < deadline)
        {
            status = await http.Status(executionId);
            if (status["completed"]!.GetValue<bool>())
                return status;
            var pending = (await PendingCommandEventsAsync(executionId)).Where(id => !done.Contains(id)).ToList();
            foreach (var eventId in pending)
            {
                var claim = await http.Claim(eventId, workerId);
                done.Add(eventId);
                Assert.True(claim.Status == HttpStatusCode.OK, $"claim {eventId}: {(int)claim.Status} {claim.Text}");
                Claims.Add(claim.Json);
                await CompleteAsync(claim.Json, tool(claim.Json));
            }
            if (pending.Count == 0)
                await Task.Delay(50);
        }
        var events = string.Join(", ", (await http.Events(executionId)).Select(e => $"{e!["event_type"]}:{e["node_name"]}"));
        throw new TimeoutException($"execution {executionId} did not complete; status {status?.ToJsonString()}; events {events}");
    }

    /// <summary>Posts the events of a successful run of the claimed command.</summary>
    public async Task CompleteAsync(JsonNode claim, JsonObject result)
    {
        var executionId = claim["execution_id"]!.GetValue<long>();
        var step = claim["node_name"]!.GetValue<string>();
        var commandId = claim["meta"]!["command_id"]!.GetValue<long>();
        var meta = EchoLeaseToken ? new JsonObject { ["lease_token"] = claim["lease_token"]?.DeepClone() } : null;
        await Expect(http.Event(executionId, step, "command.started", new JsonObject { ["command_id"] = commandId }, workerId, meta));
        await Expect(http.Event(executionId, step, "call.done", new JsonObject
        {
            ["command_id"] = commandId,
            ["result"] = new JsonObject { ["status"] = "COMPLETED", ["context"] = result },
        }, workerId, meta));
        await Expect(http.Event(executionId, step, "command.completed", new JsonObject
        {
            ["command_id"] = commandId,
            ["result"] = new JsonObject { ["status"] = "COMPLETED" },
        }, workerId, meta));
    }

    /// <summary>
    /// Event ids of <c>command.issued</c> events that are neither finished nor claimed by another worker
    /// (a command this worker claimed but did not finish is claimed again: that is idempotent).
    /// </summary>
    public async Task<List<long>> PendingCommandEventsAsync(long executionId)
    {
        var events = await http.Events(executionId);
        var finished = events
            .Where(e => e!["event_type"]!.GetValue<string>() is "command.completed" or "command.failed"
                        || e["event_type"]!.GetValue<string>() == "command.claimed" && e["meta"]?["worker_id"]?.GetValue<string>() != workerId)
            .Select(e => e!["meta"]?["command_id"] is { } id ? id.Id() : (long?)null)
            .ToHashSet();
        return events
            .Where(e => e!["event_type"]!.GetValue<string>() == "command.issued" && !finished.Contains(e["meta"]!["command_id"].Id()))
            .Select(e => e!["event_id"].Id())
            .ToList();
    }

    private static async Task Expect(Task<ApiResponse> call)
    {
        var response = await call;
        Assert.True(response.Status == HttpStatusCode.OK, $"event rejected: {(int)response.Status} {response.Text}");
    }
}
