using System.Text.Json.Nodes;
using NoEtl.Grains.Audit;
using NoEtl.Grains.Keychain;

namespace NoEtl.Grains.Executions;

/// <summary>One row of <c>noetl.event</c> as the grain writes it.</summary>
public sealed record EventRow(
    long EventId,
    string EventType,
    string? NodeName,
    string? NodeType,
    string? Status,
    JsonObject? Context,
    JsonObject? Result,
    JsonObject? Meta,
    string? Error,
    string? WorkerId,
    long? CommandId,
    long? ParentEventId,
    DateTime CreatedAt)
{
    /// <summary>The row as the engine folds it; <paramref name="referencedData"/> is what its <c>result_ref</c> points at.</summary>
    public LoggedEvent ToLogged(JsonNode? referencedData = null) =>
        new(EventId, EventType, NodeName, Status, Context, Result, Meta, CommandId, Error) { CreatedAt = CreatedAt, ReferencedData = referencedData };
}

/// <summary>A new <c>noetl.command</c> row (PENDING).</summary>
public sealed record NewCommandRow(long CommandId, long EventId, string Step, string ToolKind, JsonObject Context, JsonObject Meta, DateTime CreatedAt);

/// <summary>A status change of an existing command row; timestamps are set once (COALESCE).</summary>
public sealed record CommandChange(
    long CommandId,
    string Status,
    string? WorkerId,
    DateTime? ClaimedAt,
    DateTime? StartedAt,
    DateTime? CompletedAt,
    JsonObject? Result,
    string? Error,
    long LatestEventId)
{
    /// <summary>One change with the effect of <paramref name="earlier"/> then <paramref name="later"/> on the same row.</summary>
    public static CommandChange Merge(CommandChange earlier, CommandChange later) => new(
        later.CommandId,
        later.Status,
        later.WorkerId ?? earlier.WorkerId,
        later.ClaimedAt ?? earlier.ClaimedAt,
        earlier.StartedAt ?? later.StartedAt,
        later.CompletedAt ?? earlier.CompletedAt,
        later.Result ?? earlier.Result,
        later.Error ?? earlier.Error,
        later.LatestEventId);
}

public sealed record OutboxRow(long EventId, string Subject, JsonObject Payload);

/// <summary>The <c>noetl.execution</c> projection after a turn.</summary>
public sealed record ExecutionProjection(string Status, long LastEventId, string? LastEventType, string? LastNodeName, DateTime StartTime, DateTime? EndTime, string? Error);

/// <summary>
/// The <c>noetl.execution_request</c> row of a start under an <c>Idempotency-Key</c>: the key's primary key makes a
/// concurrent duplicate start fail its commit, and a retry is answered from the row.
/// </summary>
public sealed record ExecutionRequestRow(string IdempotencyKey, int CommandsGenerated);

/// <summary>Everything one grain turn writes. It is committed in one transaction or not at all.</summary>
public sealed class Turn
{
    public List<EventRow> Events { get; } = [];

    /// <summary>Event envelopes of <c>POST /api/internal/events/project</c>, scrubbed, in NoETL's event shape.</summary>
    public List<JsonObject> ProjectedEvents { get; } = [];
    public List<NewCommandRow> NewCommands { get; } = [];
    public List<CommandChange> CommandChanges { get; } = [];
    public List<OutboxRow> Outbox { get; } = [];
    public List<AuditEntry> Audit { get; } = [];
    public List<KeychainRow> Keychain { get; } = [];
    public ExecutionProjection? Execution { get; set; }
    public ExecutionRequestRow? Request { get; set; }
}
