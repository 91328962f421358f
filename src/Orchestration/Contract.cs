// The public surface of the orchestration engine, used by the ExecutionGrain.
// Pure: no Orleans, no SQL, no clock. Everything a decision depends on is in the event log.
using System.Text.Json.Nodes;

namespace NoEtl.Orchestration;

/// <summary>A validation problem found while parsing a playbook: a JSON-path-like location and a message.</summary>
public sealed record PlaybookError(string Path, string Message);

/// <summary>
/// One persisted row of <c>noetl.event</c> as the engine sees it. <c>Context</c> is the stored payload,
/// <c>Result</c> the stored reference-only result <c>{status, reference?, context?}</c>.
/// </summary>
public sealed record LoggedEvent(
    long EventId,
    string EventType,
    string? NodeName,
    string? Status,
    JsonObject? Context,
    JsonObject? Result,
    JsonObject? Meta,
    long? CommandId,
    string? Error)
{
    /// <summary>When the event was stored; the engine shows it to templates as <c>event.timestamp</c>.</summary>
    public DateTime? CreatedAt { get; init; }

    /// <summary>
    /// The data a <c>result_ref</c> reference in the payload points at, read from the result store by the grain
    /// (null when the event has no reference or the stored result is gone).
    /// </summary>
    public JsonNode? ReferencedData { get; init; }
}

/// <summary>What the engine wants persisted, in order.</summary>
public abstract record Emission;

/// <summary>An event the engine emits itself (step.enter, step.skipped, ctx.updated, step.exit, workflow.*, playbook.*).</summary>
public sealed record EmitEvent(
    string EventType,
    string NodeName,
    string Status,
    JsonObject? Context = null,
    JsonObject? Result = null,
    string? Error = null,
    JsonObject? Meta = null) : Emission;

/// <summary>
/// A command for a worker. The grain assigns ids and persists it as a <c>command.issued</c> event,
/// a <c>noetl.command</c> row and an outbox row. <c>Meta</c> is merged into the event meta
/// (iteration index/total, loop step, …).
/// </summary>
public sealed record IssueCommand(
    string Step,
    string ToolKind,
    JsonObject ToolConfig,
    JsonObject Input,
    JsonObject RenderContext,
    JsonObject? Spec,
    JsonObject Meta) : Emission;

/// <summary>How the execution ended, when a decision ends it.</summary>
public sealed record Completion(bool Failed, string? Error, IReadOnlyList<string> FailedSteps);

/// <summary>The output of one engine turn.</summary>
public sealed record Decision(IReadOnlyList<Emission> Emissions, Completion? Completion)
{
    public static readonly Decision None = new([], null);
}

/// <summary>Lifecycle of an execution as folded from its log.</summary>
public enum ExecutionStatus { Running, Completed, Failed, Cancelled }
