using NoEtl.ApiGateway.Auth;
using System.Text.Json.Nodes;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Events;

/// <summary>
/// Event ingest. Both wire dialects are accepted: <c>name/payload</c> with string ids (Python worker) and
/// <c>event_type/context</c> with int ids (Rust worker); extra fields are ignored.
/// </summary>
public static class EventEndpoints
{
    public const int MaxBatchEvents = 256;

    public static void MapEventEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/events", async (HttpRequest request, IGrainFactory grains, GrainFailover failover) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var executionId = body.RequiredId("execution_id");
            var workerEvent = ReadEvent(body);
            if (body.HasErrors)
                return body.Errors();
            return await failover.CallAsync(() => grains.Reference<IExecutionGrain>(executionId).Append(workerEvent!), request.HttpContext.RequestAborted).ToHttp();
        }).ForWorkers();

        app.MapPost("/api/events/batch", async (HttpRequest request, IGrainFactory grains, GrainFailover failover) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var executionId = body.RequiredId("execution_id");
            var workerId = body.String("worker_id");
            var items = body.Array("events");
            if (items is null || items.Count == 0)
                body.Add("too_short", "events", "List should have at least 1 item");
            else if (items.Count > MaxBatchEvents)
                body.Add("too_long", "events", $"at most {MaxBatchEvents} events per request");
            var events = new List<WorkerEvent>();
            for (var i = 0; i < (items?.Count ?? 0) && !body.HasErrors; i++)
            {
                if (items![i] is not JsonObject item)
                {
                    body.Add("dict_type", $"events.{i}", "Each event must be an object");
                    continue;
                }
                var parsed = ReadEvent(body.Nested(item, "events", i.ToString()));
                if (parsed is not null)
                    events.Add(parsed with { Actionable = item["actionable"] is null ? false : parsed.Actionable });
            }
            if (body.HasErrors)
                return body.Errors();
            var (key, badKey) = RequestBody.IdempotencyKey(request);
            if (badKey is not null)
                return badKey;
            return await failover.CallAsync(() => grains.Reference<IExecutionGrain>(executionId).AppendBatch(events, workerId, key),
                request.HttpContext.RequestAborted).ToHttp();
        }).ForWorkers();
    }

    private static WorkerEvent? ReadEvent(RequestBody body)
    {
        var step = body.RequiredString("step", "node_name");
        var name = body.RequiredString("name", "event_type");
        var payload = body.Object("payload", "context") ?? [];
        var meta = body.Object("meta");
        var workerId = body.String("worker_id");
        var actionable = body.Bool("actionable", true);
        var informative = body.Bool("informative", true);
        return body.HasErrors ? null : new WorkerEvent(step, name, payload.ToJsonString(), meta?.ToJsonString(), workerId, actionable, informative);
    }
}
