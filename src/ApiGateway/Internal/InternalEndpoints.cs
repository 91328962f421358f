using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.HttpResults;
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

/// <summary>The system pool's surface: outbox claims and acknowledgements, and event projection.</summary>
public static class InternalEndpoints
{
    public static void MapInternalEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/internal");
        var outbox = group.MapGroup("/outbox");

        outbox.MapPost("/claim", async (HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request, allowEmpty: true);
            if (body is null)
                return error!;
            var limit = body.Int("limit", 1, 1000) ?? 100;
            var waitMs = body.Int("wait_ms", 0, 60_000) ?? 0;
            if (body.HasErrors)
                return body.Errors();
            return await grains.Reference<IOutboxGrain>(0).Claim(limit, waitMs, request.HttpContext.RequestAborted).ToHttp();
        });

        outbox.MapPost("/mark-published", async (HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var ids = body.Array("outbox_ids");
            var parsed = ids?.Select(WireIds.Read).ToList() ?? [];
            if (ids is null || ids.Count == 0)
                body.Add("too_short", "outbox_ids", "List should have at least 1 item");
            else if (parsed.Any(id => id is null))
                body.Add("int_parsing", "outbox_ids", "Every outbox id must be an integer");
            if (body.HasErrors)
                return body.Errors();
            return await grains.Reference<IOutboxGrain>(0).MarkPublished([.. parsed.Select(id => id!.Value)]).ToHttp();
        });

        outbox.MapPost("/mark-failed", async (HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var outboxId = body.RequiredId("outbox_id");
            var message = body.RequiredText("error");
            var attempts = body.Int("attempts", 1, int.MaxValue) ?? 1;
            var maxDelay = body.Int("max_delay_seconds", 1, int.MaxValue) ?? 300;
            if (body.HasErrors)
                return body.Errors();
            return await grains.Reference<IOutboxGrain>(0).MarkFailed(outboxId, message, attempts, maxDelay).ToHttp();
        });

        outbox.MapGet("/pending-count", (IGrainFactory grains) => grains.Reference<IOutboxGrain>(0).PendingCount().ToHttp());

        // Dead letters: rows that exhausted NOETL_OUTBOX_MAX_ATTEMPTS. Keyset paging: after_id = the previous next_after_id.
        outbox.MapGet("/dead", (IGrainFactory grains, int? limit, long? after_id) =>
        {
            var size = limit ?? 100;
            if (size is < 1 or > 1000 || after_id < 0)
                return Task.FromResult(RequestBody.Problem("value_error", ["query", "limit"], "1 <= limit <= 1000 and after_id >= 0"));
            return grains.Reference<IOutboxGrain>(0).DeadLetters(size, after_id ?? 0).ToHttp();
        });

        outbox.MapPost("/requeue", async (HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var all = body.Bool("all", false);
            var ids = body.Array("outbox_ids");
            var parsed = ids?.Select(WireIds.Read).ToList() ?? [];
            if (!all && (ids is null || ids.Count == 0))
                body.Add("too_short", "outbox_ids", "Give outbox_ids (at least 1 item) or \"all\": true");
            else if (parsed.Any(id => id is null))
                body.Add("int_parsing", "outbox_ids", "Every outbox id must be an integer");
            if (body.HasErrors)
                return body.Errors();
            return await grains.Reference<IOutboxGrain>(0).Requeue([.. parsed.Select(id => id!.Value)], all).ToHttp();
        });

        group.MapPost("/cleanup/purge", Purge);

        group.MapPost("/events/project", async (HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var events = body.Array("events");
            var sourceExecutionId = body.Id("source_execution_id");
            if (events is null || events.Count == 0)
                body.Add("too_short", "events", "List should have at least 1 item");
            if (body.HasErrors)
                return body.Errors();
            return await grains.Reference<IExecutionDirectoryGrain>(0).Project(events!.ToJsonString(), sourceExecutionId).ToHttp();
        });
    }

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
