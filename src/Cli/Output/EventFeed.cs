using System.Text.Json.Nodes;
using NoEtl.Cli.Http;

namespace NoEtl.Cli.Output;

/// <summary>
/// Reads an execution's event log incrementally through <c>GET /api/executions/{id}</c>, using
/// <c>since_event_id</c> as a cursor so each poll returns only new events. The server answers newest first, so the
/// new events are read page by page (page 1 onwards, until <c>has_next</c> is false) and then put in order: events
/// that arrive meanwhile only push older ones to later pages (read twice, dropped here), never past the end.
/// </summary>
public sealed class EventFeed(NoEtlClient client, string executionId, int pageSize = 100)
{
    private long? _lastEventId;

    /// <summary>The execution document (status etc.) from the latest page read.</summary>
    public JsonObject? Execution { get; private set; }

    /// <summary>Every event newer than the cursor, oldest first.</summary>
    public async Task<IReadOnlyList<JsonObject>> NextAsync(CancellationToken cancel)
    {
        var events = new SortedDictionary<long, JsonObject>();
        for (var page = 1; ; page++)
        {
            var query = $"/api/executions/{Uri.EscapeDataString(executionId)}?page={page}&page_size={pageSize}"
                + (_lastEventId is { } since ? $"&since_event_id={since}" : "");
            var document = await client.GetAsync(query, cancel) as JsonObject
                ?? throw new ApiException(200, "OK", "the execution document is not a JSON object");
            Execution = document;
            var pageEvents = (document["events"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            foreach (var e in pageEvents)
            {
                // A server that ignores since_event_id would repeat events: the cursor filters them out here.
                if (Json.Long(e["event_id"]) is { } id && id > (_lastEventId ?? long.MinValue))
                    events.TryAdd(id, e);
            }
            if (pageEvents.Count == 0 || !Json.Bool(document["pagination"]?["has_next"]))
                break;
        }
        if (events.Count > 0)
            _lastEventId = events.Keys.Last();
        return [.. events.Values];
    }

    /// <summary>
    /// Polls until the execution is terminal, handing each new event to <paramref name="onEvent"/> and calling
    /// <paramref name="onIdle"/> between polls. Returns the terminal state.
    /// </summary>
    public async Task<string> FollowAsync(Action<JsonObject> onEvent, Action onIdle, TimeSpan interval, CancellationToken cancel)
    {
        while (true)
        {
            foreach (var e in await NextAsync(cancel))
                onEvent(e);
            if (ExecutionState.Terminal(Execution) is { } terminal)
            {
                // Workers may post their tail (e.g. command.completed) just after the engine's terminal events.
                await Task.Delay(interval, cancel);
                foreach (var e in await NextAsync(cancel))
                    onEvent(e);
                return terminal;
            }
            onIdle();
            await Task.Delay(interval, cancel);
        }
    }
}
