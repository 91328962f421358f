using System.Text.Json.Nodes;

namespace NoEtl.Grains.Commands;

/// <summary>The in-memory image of one <c>noetl.command</c> row, owned by its execution grain.</summary>
public sealed class CommandRecord(long commandId, long eventId, string step, string toolKind, JsonObject context, JsonObject meta, int attempt)
{
    public static readonly HashSet<string> TerminalStatuses = ["COMPLETED", "FAILED", "CANCELLED"];

    public long CommandId { get; } = commandId;
    public long EventId { get; } = eventId;
    public string Step { get; } = step;
    public string ToolKind { get; } = toolKind;
    /// <summary><c>{tool_config, input, render_context, spec}</c> as handed to the claiming worker.</summary>
    public JsonObject Context { get; } = context;
    public JsonObject Meta { get; } = meta;
    public int Attempt { get; } = attempt;

    public string Status { get; set; } = "PENDING";
    public string? WorkerId { get; set; }
    public DateTime? ClaimedAt { get; set; }
    public DateTime? StartedAt { get; set; }
    public DateTime? CompletedAt { get; set; }

    /// <summary>
    /// Fencing token: the number of claims granted so far. A claim returns it; an event that carries an older
    /// epoch comes from a holder that lost the command and is rejected.
    /// </summary>
    public int LeaseEpoch { get; set; }

    /// <summary>When workers were last told about this command (issue or re-notification), UTC.</summary>
    public DateTime NotifiedAt { get; set; } = DateTime.UtcNow;

    public bool IsTerminal => TerminalStatuses.Contains(Status);
}
