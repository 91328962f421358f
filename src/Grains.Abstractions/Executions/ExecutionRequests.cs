namespace NoEtl.Grains;

/// <summary>
/// A request to start an execution of a catalog entry, as accepted by <c>POST /api/execute</c>. A request with an
/// <see cref="IdempotencyKey"/> starts at most one execution; repeating it answers that execution's reply.
/// </summary>
[GenerateSerializer, Immutable, Alias("noetl.StartExecution")]
public sealed record StartExecution(
    [property: Id(0)] string? Path,
    [property: Id(1)] long? CatalogId,
    [property: Id(2)] int? Version,
    [property: Id(3)] string WorkloadJson,
    [property: Id(4)] long? ParentExecutionId,
    [property: Id(5)] string? IdempotencyKey = null);

/// <summary>
/// One worker event of <c>POST /api/events</c>, normalized from either wire dialect
/// (<c>name/payload</c> or <c>event_type/context</c>).
/// </summary>
[GenerateSerializer, Immutable, Alias("noetl.WorkerEvent")]
public sealed record WorkerEvent(
    [property: Id(0)] string Step,
    [property: Id(1)] string Name,
    [property: Id(2)] string PayloadJson,
    [property: Id(3)] string? MetaJson,
    [property: Id(4)] string? WorkerId,
    [property: Id(5)] bool Actionable,
    [property: Id(6)] bool Informative);

/// <summary>Paging and filters of <c>GET /api/executions/{id}</c>.</summary>
[GenerateSerializer, Immutable, Alias("noetl.EventPage")]
public sealed record EventPage(
    [property: Id(0)] int Page,
    [property: Id(1)] int PageSize,
    [property: Id(2)] long? SinceEventId,
    [property: Id(3)] string? EventType,
    [property: Id(4)] bool IncludeEvents);

/// <summary>
/// A result posted to <c>PUT /api/result/{execution_id}</c> (too large to inline in <c>call.done</c>); JSON parts travel
/// as text. <see cref="TtlSeconds"/> null means the store's default lifetime, <see cref="Forever"/> no expiry.
/// </summary>
[GenerateSerializer, Immutable, Alias("noetl.ResultInput")]
public sealed record ResultInput(
    [property: Id(0)] string Name,
    [property: Id(1)] string DataJson,
    [property: Id(2)] string Scope,
    [property: Id(3)] string? SourceStep,
    [property: Id(4)] string? CorrelationJson,
    [property: Id(5)] string? ExtractedJson,
    [property: Id(6)] int? TtlSeconds,
    [property: Id(7)] bool Forever);
