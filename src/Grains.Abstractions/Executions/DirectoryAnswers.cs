using System.Text.Json.Serialization;

namespace NoEtl.Grains;

// What the execution directory answers to the GUI's execution pages, as the wire carries them: snowflake ids as strings
// (JavaScript numbers lose their low digits), times as ISO 8601 text made by the grain, logged documents as JsonText.

/// <summary>One execution of <c>GET /api/executions</c>; <see cref="Result"/> is only filled in its detail.</summary>
[GenerateSerializer, Immutable, Alias("noetl.ExecutionSummary")]
public record ExecutionSummary(
    [property: Id(0), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long ExecutionId,
    [property: Id(1), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long CatalogId,
    [property: Id(2)] string Path,
    [property: Id(3)] int Version,
    [property: Id(4)] string Status,
    [property: Id(5)] string? StartTime,
    [property: Id(6)] string? EndTime,
    [property: Id(7)] double? DurationSeconds,
    [property: Id(8)] string? DurationHuman,
    [property: Id(9), JsonPropertyOrder(2)] JsonText? Result,
    [property: Id(10), JsonPropertyOrder(2)] string? Error,
    [property: Id(11), JsonPropertyOrder(2), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long? ParentExecutionId)
{
    [JsonPropertyOrder(1)] public int Progress => Status is "RUNNING" ? 0 : 100;
}

/// <summary>
/// <c>GET /api/executions/{id}</c>: the execution's summary with the final step's result (once completed), then one
/// page of its events, newest first.
/// </summary>
[GenerateSerializer, Immutable, Alias("noetl.ExecutionDetail")]
public sealed record ExecutionDetail : ExecutionSummary
{
    public ExecutionDetail(ExecutionSummary summary, IReadOnlyList<ExecutionEventView> events, bool eventsIncluded, EventPagination pagination)
        : base(summary)
    {
        Events = events;
        EventsIncluded = eventsIncluded;
        Pagination = pagination;
    }

    [Id(0), JsonPropertyOrder(3)] public IReadOnlyList<ExecutionEventView> Events { get; init; }

    [Id(1), JsonPropertyOrder(3)] public bool EventsIncluded { get; init; }

    [JsonPropertyOrder(3)] public string EventsEndpoint => $"/api/executions/{ExecutionId}/events";

    [Id(2), JsonPropertyOrder(3)] public EventPagination Pagination { get; init; }
}

/// <summary>One logged event of an execution's detail, redacted; <c>meta</c>'s ids as strings too.</summary>
[GenerateSerializer, Immutable, Alias("noetl.ExecutionEventView")]
public sealed record ExecutionEventView(
    [property: Id(0), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long EventId,
    [property: Id(1)] string EventType,
    [property: Id(2)] string? NodeId,
    [property: Id(3)] string? NodeName,
    [property: Id(4)] string? Status,
    [property: Id(5)] string CreatedAt,
    [property: Id(6), JsonPropertyOrder(2)] JsonText? Context,
    [property: Id(7), JsonPropertyOrder(2)] JsonText? Result,
    [property: Id(8), JsonPropertyOrder(2)] string? Error,
    [property: Id(9), JsonPropertyOrder(2), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long CatalogId,
    [property: Id(10), JsonPropertyOrder(2), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long? ParentExecutionId,
    [property: Id(11), JsonPropertyOrder(2), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long? ParentEventId,
    [property: Id(12), JsonPropertyOrder(2)] double? Duration,
    [property: Id(13), JsonPropertyOrder(2)] JsonText? Meta)
{
    /// <summary>NoETL's GUI reads the creation time under this name too.</summary>
    [JsonPropertyOrder(1)] public string Timestamp => CreatedAt;
}

/// <summary>Where an execution detail's page of events sits among all its events (as filtered).</summary>
[GenerateSerializer, Immutable, Alias("noetl.EventPagination")]
public sealed record EventPagination(
    [property: Id(0)] int Page,
    [property: Id(1)] int PageSize,
    [property: Id(2)] long TotalEvents,
    [property: Id(3)] int TotalPages)
{
    public bool HasNext => Page < TotalPages;

    public bool HasPrev => Page > 1;
}

/// <summary>
/// <c>POST /api/executions/{id}/analyze</c>: the summary's times, event counts by type (most frequent first), the steps
/// that failed (latest first) and the slowest steps, each list at most <see cref="Limit"/> long.
/// </summary>
[GenerateSerializer, Immutable, Alias("noetl.ExecutionAnalysis")]
public sealed record ExecutionAnalysis(
    [property: Id(0), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long ExecutionId,
    [property: Id(1)] string Path,
    [property: Id(2)] int Version,
    [property: Id(3)] string Status,
    [property: Id(4)] string? Error,
    [property: Id(5)] string? StartTime,
    [property: Id(6)] string? EndTime,
    [property: Id(7)] double? DurationSeconds,
    [property: Id(8)] string? DurationHuman,
    [property: Id(9)] long EventCount,
    [property: Id(10)] IReadOnlyDictionary<string, long> EventsByType,
    [property: Id(11)] IReadOnlyList<FailedStep> FailedSteps,
    [property: Id(12)] IReadOnlyList<SlowStep> SlowestSteps,
    [property: Id(13)] int Limit,
    [property: Id(14)] string AnalyzedAt);

/// <summary>A step of an analysis that failed: how often, its latest error (redacted) and when.</summary>
[GenerateSerializer, Immutable, Alias("noetl.FailedStep")]
public sealed record FailedStep(
    [property: Id(0)] string? Step,
    [property: Id(1)] long Failures,
    [property: Id(2)] string? Error,
    [property: Id(3), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long LastEventId,
    [property: Id(4)] string LastFailedAt);

/// <summary>A step of an analysis by time taken: from its first command's start to its last command's end.</summary>
[GenerateSerializer, Immutable, Alias("noetl.SlowStep")]
public sealed record SlowStep(
    [property: Id(0)] string? Step,
    [property: Id(1)] long Commands,
    [property: Id(2)] string StartedAt,
    [property: Id(3)] string FinishedAt,
    [property: Id(4)] double DurationSeconds,
    [property: Id(5)] double MaxCommandSeconds);
