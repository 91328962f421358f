using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Internal;

/// <summary>Retention settings of <c>POST /api/internal/cleanup/purge</c>, each defaulted; an empty body purges with the defaults.</summary>
public sealed record PurgeSettings(
    [property: Range(0, RequestLimits.MaxRetentionDays)] int? CommandRetentionDays,
    [property: Range(0, RequestLimits.MaxRetentionMinutes)] int? RuntimeStaleMinutes,
    [property: Range(0, RequestLimits.MaxRetentionDays)] int? EventRetentionDays,
    [property: Range(0, RequestLimits.MaxRetentionDays)] int? AuditRetentionDays,
    [property: Range(0, RequestLimits.MaxRetentionDays)] int? IdempotencyKeyRetentionDays) : IOptionalBody, IRequestRules<PurgeSettings>
{
    /// <summary>One outbox retention: a per-request one would let a caller undo the server's.</summary>
    public static void Check(RequestBody body)
    {
        if (body.Raw("outbox_retention_hours") is not null)
            body.Add("extra_forbidden", "outbox_retention_hours", "The outbox retention is the server's NOETL_OUTBOX_RETENTION_SECONDS");
    }

    public PurgeRequest ToGrain() => new(CommandRetentionDays ?? 7, RuntimeStaleMinutes ?? 60, EventRetentionDays ?? 0, AuditRetentionDays ?? 90,
        IdempotencyKeyRetentionDays ?? 7);
}

/// <summary>A claim of the outbox publisher: up to <c>limit</c> rows, waiting up to <c>wait_ms</c> for some to commit.</summary>
public sealed record OutboxClaimRequest([property: Range(1, 1000)] int? Limit, [property: Range(0, 60_000)] int? WaitMs) : IOptionalBody;

/// <summary>The rows a publisher published (at least one).</summary>
public sealed record OutboxIdsRequest(long[]? OutboxIds) : IRequestRules<OutboxIdsRequest>
{
    public static void Check(RequestBody body)
    {
        if (body.Raw("outbox_ids") is not JsonArray { Count: > 0 } and not JsonValue)
            body.Add("too_short", "outbox_ids", "List should have at least 1 item");
    }
}

/// <summary>A failed publish of one row; <c>attempts</c> is the publisher's count, for the backoff.</summary>
public sealed record OutboxFailureRequest(
    [property: Required] long OutboxId,
    [property: Required, FreeText] string Error,
    [property: AtLeast(1)] int? Attempts,
    [property: AtLeast(1)] int? MaxDelaySeconds);

/// <summary>Dead rows to move back to PENDING: the listed ids, or every one with <c>"all": true</c>.</summary>
public sealed record OutboxRequeueRequest(long[]? OutboxIds, bool? All) : IRequestRules<OutboxRequeueRequest>
{
    public static void Check(RequestBody body)
    {
        if (body.Raw("all") is not JsonValue all || all.GetValueKind() != JsonValueKind.True)
        {
            if (body.Raw("outbox_ids") is not JsonArray { Count: > 0 } and not JsonValue)
                body.Add("too_short", "outbox_ids", "Give outbox_ids (at least 1 item) or \"all\": true");
        }
    }
}

/// <summary>
/// <c>POST /api/internal/events/project</c>: formed envelopes (checked one by one by the directory grain) and the
/// execution that projects them.
/// </summary>
public sealed record ProjectEventsRequest([property: JsonRequired] JsonArray? Events, long? SourceExecutionId) : IRequestRules<ProjectEventsRequest>
{
    public static void Check(RequestBody body)
    {
        if (body.Fields["events"] is not JsonArray { Count: > 0 })
            body.Add("too_short", "events", "List should have at least 1 item");
    }
}

/// <summary>The system pool's surface: outbox claims and acknowledgements, and event projection.</summary>
public static class InternalEndpoints
{
    public static void MapInternalEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/internal");
        var outbox = group.MapGroup("/outbox");
        outbox.MapPost("/claim", Claim);
        outbox.MapPost("/mark-published", MarkPublished);
        outbox.MapPost("/mark-failed", MarkFailed);
        outbox.MapGet("/pending-count", PendingCount);
        // Dead letters: rows that exhausted NOETL_OUTBOX_MAX_ATTEMPTS. Keyset paging: after_id = the previous next_after_id.
        outbox.MapGet("/dead", DeadLetters);
        outbox.MapPost("/requeue", Requeue);

        group.MapPost("/cleanup/purge", Purge);

        group.MapPost("/events/project", Project);
    }

    private static async Task<Results<Ok<OutboxClaim>, UnavailableError>> Claim(JsonBody<OutboxClaimRequest> body, HttpContext http, IGrainFactory grains) =>
        Answer(await grains.Reference<IOutboxGrain>(0).Claim(body.Value.Limit ?? 100, body.Value.WaitMs ?? 0, http.RequestAborted));

    private static async Task<Results<Ok<OutboxMarked>, UnavailableError>> MarkPublished(JsonBody<OutboxIdsRequest> body, IGrainFactory grains) =>
        Answer(await grains.Reference<IOutboxGrain>(0).MarkPublished(body.Value.OutboxIds ?? []));

    private static async Task<Results<Ok<OutboxFailed>, NotFound<ErrorBody>, UnavailableError>> MarkFailed(
        JsonBody<OutboxFailureRequest> body, IGrainFactory grains)
    {
        var request = body.Value;
        var outcome = await grains.Reference<IOutboxGrain>(0).MarkFailed(request.OutboxId, request.Error, request.Attempts ?? 1, request.MaxDelaySeconds ?? 300);
        return outcome switch
        {
            { Value: { } failed } => TypedResults.Ok(failed),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<EventsProjected>, UnprocessableEntity<ValidationErrors>, UnavailableError>> Project(
        JsonBody<ProjectEventsRequest> body, IGrainFactory grains)
    {
        var events = new JsonText(body.Value.Events!.ToJsonString());
        var outcome = await grains.Reference<IExecutionDirectoryGrain>(0).Project(events, body.Value.SourceExecutionId);
        return outcome switch
        {
            { Value: { } projected } => TypedResults.Ok(projected),
            { Failure: { Kind: FailureKind.Invalid } failure } => ContractResults.Invalid(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<OutboxPending>, UnavailableError>> PendingCount(IGrainFactory grains) =>
        Answer(await grains.Reference<IOutboxGrain>(0).PendingCount());

    private static async Task<Results<Ok<DeadLetters>, UnprocessableEntity<ValidationErrors>, UnavailableError>> DeadLetters(
        IGrainFactory grains, int? limit, [FromQuery(Name = "after_id")] long? afterId)
    {
        var size = limit ?? 100;
        if (size is < 1 or > 1000 || afterId < 0)
            return ContractResults.FieldProblem("value_error", ["query", "limit"], "1 <= limit <= 1000 and after_id >= 0");
        var outcome = await grains.Reference<IOutboxGrain>(0).DeadLetters(size, afterId ?? 0);
        return outcome switch
        {
            { Value: { } page } => TypedResults.Ok(page),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<OutboxRequeued>, UnavailableError>> Requeue(JsonBody<OutboxRequeueRequest> body, IGrainFactory grains) =>
        Answer(await grains.Reference<IOutboxGrain>(0).Requeue(body.Value.OutboxIds ?? [], body.Value.All ?? false));

    /// <summary>The answer of an outbox call that fails only when the database does.</summary>
    private static Results<Ok<T>, UnavailableError> Answer<T>(Outcome<T> outcome)
        where T : class => outcome switch
        {
            { Value: { } value } => TypedResults.Ok(value),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };

    private static async Task<Results<Ok<PurgeReport>, UnavailableError>> Purge(JsonBody<PurgeSettings> body, IGrainFactory grains)
    {
        var outcome = await grains.Reference<IMaintenanceGrain>(0).Purge(body.Value.ToGrain());
        return outcome switch
        {
            { Value: { } report } => TypedResults.Ok(report),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }
}
