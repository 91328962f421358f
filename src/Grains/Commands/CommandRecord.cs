using System.Collections.Frozen;
using System.Text.Json.Nodes;
using NoEtl.Orchestration;

namespace NoEtl.Grains.Commands;

/// <summary>A command's context and meta as issued, read back from <c>noetl.command</c> for a finished command.</summary>
public sealed record CommandBody(JsonObject Context, JsonObject Meta);

/// <summary>
/// The in-memory image of one <c>noetl.command</c> row, owned by its execution grain. Its context and meta are kept as
/// UTF-8 JSON rather than node trees, and only until the command is terminal: they are read to answer a claim (never
/// granted for a finished command) or a command lookup (answered from <c>noetl.command</c> once finished). What stays of
/// a finished command is what fencing and de-duplication need, so a long loop does not keep every iteration's render
/// context (docs/benchmarks.md, "Memory per execution").
/// </summary>
public sealed class CommandRecord(long commandId, long eventId, string step, string toolKind, JsonObject? context, JsonObject? meta, int attempt)
{
    /// <summary>Slots of <see cref="_firstEvents"/>, one per deduplicated event name.</summary>
    private static readonly FrozenDictionary<string, int> FirstEventSlots =
        DeduplicatedEvents.Names.Select((name, slot) => KeyValuePair.Create(name, slot)).ToFrozenDictionary(StringComparer.Ordinal);

    private byte[]? _context = context is null ? null : JsonBytes.Of(context);
    private byte[]? _meta = meta is null ? null : JsonBytes.Of(meta);
    private string _status = "PENDING";
    // The first event id stored per deduplicated name under this command's step (0: none yet): a worker's retry is
    // answered with it. Six longs per command, where an index entry per event cost about 70 B.
    private long[]? _firstEvents;

    public static readonly HashSet<string> TerminalStatuses = ["COMPLETED", "FAILED", "CANCELLED"];

    public long CommandId { get; } = commandId;
    public long EventId { get; } = eventId;
    public string Step { get; } = step;
    public string ToolKind { get; } = toolKind;

    /// <summary>Whether the context and meta are still in memory (until the command is terminal).</summary>
    public bool HasBody => _context is not null;

    /// <summary>A new copy of <c>{tool_config, input, render_context, spec}</c> as handed to the claiming worker.</summary>
    public JsonObject ContextCopy() => JsonNode.Parse(Kept(_context))!.AsObject();

    /// <summary>The same context as JSON text, for answers that pass it on unchanged (a claim).</summary>
    public string ContextJson => System.Text.Encoding.UTF8.GetString(Kept(_context));

    /// <summary>A new copy of the command's meta as issued.</summary>
    public JsonObject MetaCopy() => JsonNode.Parse(Kept(_meta))!.AsObject();
    public int Attempt { get; } = attempt;

    /// <summary>Setting a terminal status drops the context and meta.</summary>
    public string Status
    {
        get => _status;
        set
        {
            _status = value;
            if (IsTerminal)
                (_context, _meta) = (null, null);
        }
    }

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

    public bool IsTerminal => TerminalStatuses.Contains(_status);

    /// <summary>The first stored event of a deduplicated <paramref name="name"/> for this command under its own step.</summary>
    public long? FirstEvent(string name) =>
        _firstEvents is not null && FirstEventSlots.TryGetValue(name, out var slot) && _firstEvents[slot] != 0 ? _firstEvents[slot] : null;

    /// <summary>Records <paramref name="eventId"/> as the first of <paramref name="name"/> unless one is known.</summary>
    public void RememberFirstEvent(string name, long eventId)
    {
        if (!FirstEventSlots.TryGetValue(name, out var slot))
            return;
        _firstEvents ??= new long[FirstEventSlots.Count];
        if (_firstEvents[slot] == 0)
            _firstEvents[slot] = eventId;
    }

    private byte[] Kept(byte[]? body) =>
        body ?? throw new InvalidOperationException($"command {CommandId} is {_status}: its context and meta are in noetl.command only");

}
