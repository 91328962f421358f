using System.Text.Json.Serialization;

namespace NoEtl.Grains;

// What the execution grain answers, as the wire carries it: ids the workers post back are numbers, ids the GUI and
// CLI read are strings, times are ISO 8601 text made by the grain, documents travel as JsonText.

/// <summary>
/// <c>POST /api/execute</c> and a rerun: the execution started. A start repeated under its <c>Idempotency-Key</c> gets
/// the first one's answer.
/// </summary>
[GenerateSerializer, Immutable, Alias("noetl.ExecutionStarted")]
public sealed record ExecutionStarted(
    [property: Id(0), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long ExecutionId,
    [property: Id(1), JsonPropertyOrder(1)] int CommandsGenerated)
{
    public string Status => "started";
}

/// <summary><c>POST /api/events</c>: the stored event (the first one, for a repeated idempotent event).</summary>
[GenerateSerializer, Immutable, Alias("noetl.EventAccepted")]
public sealed record EventAccepted([property: Id(0)] long EventId, [property: Id(1)] int CommandsGenerated)
{
    [JsonPropertyOrder(-1)] public string Status => "ok";
}

/// <summary><c>POST /api/events/batch</c> (202): the batch's event ids in order; a replay answers the first batch's.</summary>
[GenerateSerializer, Immutable, Alias("noetl.BatchAccepted")]
public sealed record BatchAccepted(
    [property: Id(0), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long RequestId,
    [property: Id(1)] IReadOnlyList<long> EventIds,
    [property: Id(2)] int CommandsGenerated,
    [property: Id(3)] int QueueDepth,
    [property: Id(4)] bool Duplicate,
    [property: Id(5)] string? IdempotencyKey)
{
    [JsonPropertyOrder(-1)] public string Status => "accepted";
}

/// <summary>A granted claim: the command to run, the lease's epoch and token the holder echoes with its events.</summary>
[GenerateSerializer, Immutable, Alias("noetl.CommandClaim")]
public sealed record CommandClaim(
    [property: Id(0)] long EventId,
    [property: Id(1)] long ExecutionId,
    [property: Id(2)] long LeaseEpoch,
    [property: Id(3)] string LeaseToken,
    [property: Id(4)] string NodeId,
    [property: Id(5)] string NodeName,
    [property: Id(6)] string? Action,
    [property: Id(7)] JsonText Context,
    [property: Id(8)] JsonText Meta)
{
    [JsonPropertyOrder(-1)] public string Status => "ok";
}

/// <summary><c>GET /api/commands/{event_id}</c>: a command as issued, redacted, with its current status.</summary>
[GenerateSerializer, Immutable, Alias("noetl.CommandView")]
public sealed record CommandView(
    [property: Id(0)] long ExecutionId,
    [property: Id(1)] string NodeId,
    [property: Id(2)] string NodeName,
    [property: Id(3)] string? Action,
    [property: Id(4)] JsonText? Context,
    [property: Id(5)] JsonText? Meta,
    [property: Id(6)] string Status);

/// <summary><c>GET /api/executions/{id}/status</c>.</summary>
[GenerateSerializer, Immutable, Alias("noetl.ExecutionStatusReport")]
public sealed record ExecutionStatusReport(
    [property: Id(0), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long ExecutionId,
    [property: Id(1)] string Path,
    [property: Id(2)] string Status,
    [property: Id(3)] string? CurrentStep,
    [property: Id(4)] IReadOnlyList<string> CompletedSteps,
    [property: Id(5)] bool Failed,
    [property: Id(6)] bool Completed,
    [property: Id(7)] string? Error,
    [property: Id(8)] JsonText? Variables,
    [property: Id(9)] JsonText? Result,
    [property: Id(10)] string StartTime,
    [property: Id(11)] string? EndTime,
    [property: Id(12)] double DurationSeconds,
    [property: Id(13)] string DurationHuman,
    [property: Id(14), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long? ParentExecutionId)
{
    /// <summary>NoETL infers completion from events when its projection lags; this log is the projection.</summary>
    [JsonPropertyOrder(1)] public bool CompletionInferred => false;
}

/// <summary><c>GET /api/executions/{id}/cancellation-check</c>: what a worker polls before it runs on.</summary>
[GenerateSerializer, Immutable, Alias("noetl.CancellationState")]
public sealed record CancellationState(
    [property: Id(0), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long ExecutionId,
    [property: Id(1)] string Status,
    [property: Id(2)] string? EventType)
{
    public bool Cancelled => Status == "CANCELLED";

    public bool Completed => Status == "COMPLETED";

    public bool Failed => Status == "FAILED";
}

/// <summary>
/// A cancel: <c>cancelled</c> with every execution it ended (this one first, then the descendants of the cascade), or
/// <c>already_completed</c> with the descendants a repeated cascade reached.
/// </summary>
[GenerateSerializer, Immutable, Alias("noetl.Cancellation")]
public sealed record Cancellation(
    [property: Id(0)] string Status,
    [property: Id(1), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long ExecutionId,
    [property: Id(2)] IReadOnlyList<string> CancelledExecutions,
    [property: Id(3)] string Message);

/// <summary><c>PUT /api/result/{execution_id}</c>: where the result is kept, by the ref the event carries.</summary>
[GenerateSerializer, Immutable, Alias("noetl.StoredResult")]
public sealed record StoredResult(
    [property: Id(0)] string Ref,
    [property: Id(1)] string Store,
    [property: Id(2)] string Scope,
    [property: Id(3)] string? ExpiresAt,
    [property: Id(4)] int Bytes,
    [property: Id(5)] string Sha256);

/// <summary>A stored result as read back, redacted.</summary>
[GenerateSerializer, Immutable, Alias("noetl.ResultView")]
public sealed record ResultView(
    [property: Id(0)] string Ref,
    [property: Id(1), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long ExecutionId,
    [property: Id(2)] string Name,
    [property: Id(3)] string Scope,
    [property: Id(4)] string Store,
    [property: Id(5)] string? SourceStep,
    [property: Id(6)] JsonText? Data,
    [property: Id(7)] JsonText? Correlation,
    [property: Id(8)] JsonText? Extracted,
    [property: Id(9)] int Bytes,
    [property: Id(10)] string Sha256,
    [property: Id(11)] string CreatedAt,
    [property: Id(12)] string? ExpiresAt);

/// <summary>What <c>POST /api/internal/events/project</c> stored: new envelopes, and those already there.</summary>
[GenerateSerializer, Immutable, Alias("noetl.EventsProjected")]
public sealed record EventsProjected([property: Id(0)] int Projected, [property: Id(1)] int Duplicates);
