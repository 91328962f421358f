using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.HttpResults;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;
using EventRefusal = Microsoft.AspNetCore.Http.HttpResults.Results<
    Microsoft.AspNetCore.Http.HttpResults.NotFound<NoEtl.ApiGateway.Http.ErrorBody>,
    NoEtl.ApiGateway.Http.ForbiddenError,
    NoEtl.ApiGateway.Http.ConflictError,
    Microsoft.AspNetCore.Http.HttpResults.UnprocessableEntity<NoEtl.ApiGateway.Http.ValidationErrors>,
    NoEtl.ApiGateway.Http.TooLargeError,
    NoEtl.ApiGateway.Http.UnavailableError>;

namespace NoEtl.ApiGateway.Events;

/// <summary>
/// One worker event in either wire dialect: <c>name/payload</c> with string ids (Python worker) or
/// <c>event_type/context</c> with int ids (Rust worker); extra fields are ignored. The payload and meta are handed on
/// as the JSON text they were sent as.
/// </summary>
public record WorkerEventItem(
    [property: Required, AlsoNamed("node_name")] string Step,
    [property: Required, AlsoNamed("event_type")] string Name,
    [property: AlsoNamed("context")] JsonText? Payload,
    JsonText? Meta,
    string? WorkerId,
    bool? Actionable,
    bool? Informative)
{
    /// <param name="actionable">Whether the engine reacts when the event does not say (a single event: yes; a batch's: no).</param>
    public WorkerEvent ToGrain(bool actionable, string? workerId = null) =>
        new(Step, Name, Payload?.Json ?? "{}", Meta?.Json, WorkerId ?? workerId, Actionable ?? actionable, Informative ?? true);
}

/// <summary>A worker event as posted to <c>POST /api/events</c>.</summary>
public sealed record WorkerEventRequest(string Step, string Name, JsonText? Payload, JsonText? Meta, string? WorkerId, bool? Actionable, bool? Informative)
    : WorkerEventItem(Step, Name, Payload, Meta, WorkerId, Actionable, Informative)
{
    [Required] public long ExecutionId { get; init; }
}

/// <summary><c>POST /api/events/batch</c>: events of one execution, stored all or none.</summary>
public sealed record WorkerEventBatchRequest(
    [property: Required] long ExecutionId,
    string? WorkerId,
    [property: MinLength(1, ErrorMessage = "List should have at least 1 item"),
               MaxLength(EventEndpoints.MaxBatchEvents, ErrorMessage = "at most 256 events per request")] IReadOnlyList<WorkerEventItem> Events);

/// <summary>Event ingest (the hot path: one parse of the body in the gateway, its payloads handed on as text).</summary>
public static class EventEndpoints
{
    public const int MaxBatchEvents = 256;

    public static void MapEventEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/events", Append).ForWorkers();
        app.MapPost("/api/events/batch", AppendBatch).ForWorkers();
    }

    private static async Task<Results<Ok<EventAccepted>, EventRefusal>> Append(JsonBody<WorkerEventRequest> body, IGrainFactory grains, GrainFailover failover, HttpContext http)
    {
        var request = body.Value;
        var outcome = await failover.CallAsync(() => grains.Reference<IExecutionGrain>(request.ExecutionId).Append(request.ToGrain(actionable: true)),
            http.RequestAborted, repeatAfterTimeout: DeduplicatedEvents.Names.Contains(request.Name));
        return outcome switch
        {
            { Value: { } accepted } => TypedResults.Ok(accepted),
            { Failure: { } failure } => Refused(failure),
            _ => throw ContractResults.Undeclared(null),
        };
    }

    private static async Task<Results<Accepted<BatchAccepted>, EventRefusal>> AppendBatch(JsonBody<WorkerEventBatchRequest> body, IGrainFactory grains, GrainFailover failover, HttpContext http)
    {
        var (key, badKey) = RequestBody.IdempotencyKey(http.Request);
        if (badKey is not null)
            return (EventRefusal)badKey;
        var request = body.Value;
        var events = request.Events.Select(item => item.ToGrain(actionable: false)).ToList();
        var outcome = await failover.CallAsync(() => grains.Reference<IExecutionGrain>(request.ExecutionId).AppendBatch(events, request.WorkerId, key),
            http.RequestAborted, repeatAfterTimeout: key is not null);
        return outcome switch
        {
            { Value: { } accepted } => TypedResults.Accepted((string?)null, accepted),
            { Failure: { } failure } => Refused(failure),
            _ => throw ContractResults.Undeclared(null),
        };
    }

    /// <summary>The refusals of an event (single or batch): the execution, the pool, the claim, the event's fields, its size, the commit.</summary>
    private static EventRefusal Refused(Failure failure) => failure.Kind switch
    {
        FailureKind.NotFound => ContractResults.NotFound(failure),
        FailureKind.Forbidden => ContractResults.Forbidden(failure),
        FailureKind.Conflict => ContractResults.RetryableConflict(failure),
        FailureKind.Invalid => ContractResults.Invalid(failure),
        FailureKind.TooLarge => ContractResults.TooLarge(failure),
        FailureKind.Unavailable => ContractResults.Unavailable(failure),
        _ => throw ContractResults.Undeclared(failure),
    };
}
