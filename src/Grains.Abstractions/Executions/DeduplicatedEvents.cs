using System.Collections.Frozen;

namespace NoEtl.Grains;

/// <summary>
/// Worker events whose repeat for the same command is answered with the first one stored: the execution grain keeps one
/// of each per (name, step, command). Other events (heartbeats, progress, custom names) are stored every time they arrive.
/// </summary>
public static class DeduplicatedEvents
{
    /// <summary>A frozen set, so callers can reuse its string instances (<c>TryGetValue</c>) in keys kept per event.</summary>
    public static readonly FrozenSet<string> Names =
        FrozenSet.ToFrozenSet(["call.done", "call.error", "step.exit", "command.started", "command.completed", "command.failed"]);
}
