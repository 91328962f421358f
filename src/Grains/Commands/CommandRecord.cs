using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Grains.Commands;

/// <summary>
/// The in-memory image of one <c>noetl.command</c> row, owned by its execution grain. Its context and meta are kept as
/// UTF-8 JSON rather than node trees: they are only read to answer a claim or a command lookup (each gets a copy
/// anyway), and as trees they made up most of an active execution's memory (docs/benchmarks.md, "Memory per execution").
/// </summary>
public sealed class CommandRecord(long commandId, long eventId, string step, string toolKind, JsonObject context, JsonObject meta, int attempt)
{
    private readonly byte[] _context = Utf8(context);
    private readonly byte[] _meta = Utf8(meta);

    public static readonly HashSet<string> TerminalStatuses = ["COMPLETED", "FAILED", "CANCELLED"];

    public long CommandId { get; } = commandId;
    public long EventId { get; } = eventId;
    public string Step { get; } = step;
    public string ToolKind { get; } = toolKind;
    /// <summary>A new copy of <c>{tool_config, input, render_context, spec}</c> as handed to the claiming worker.</summary>
    public JsonObject ContextCopy() => JsonNode.Parse(_context)!.AsObject();

    /// <summary>The same context as JSON text, for answers that pass it on unchanged (a claim).</summary>
    public string ContextJson => System.Text.Encoding.UTF8.GetString(_context);

    /// <summary>A new copy of the command's meta as issued.</summary>
    public JsonObject MetaCopy() => JsonNode.Parse(_meta)!.AsObject();
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

    private static byte[] Utf8(JsonObject node)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
            node.WriteTo(writer);
        return buffer.WrittenSpan.ToArray();
    }
}

