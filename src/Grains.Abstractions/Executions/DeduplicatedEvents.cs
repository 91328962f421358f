namespace NoEtl.Grains;

/// <summary>
/// Worker events whose repeat for the same command is answered with the first one stored: the execution grain keeps one
/// of each per (name, step, command). Other events (heartbeats, progress, custom names) are stored every time they arrive.
/// </summary>
public static class DeduplicatedEvents
{
    public static readonly IReadOnlySet<string> Names =
        new HashSet<string>(["call.done", "call.error", "step.exit", "command.started", "command.completed", "command.failed"]);
}
