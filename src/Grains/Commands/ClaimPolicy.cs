using NoEtl.Grains.Hosting;

namespace NoEtl.Grains.Commands;

/// <summary>The holder's row in <c>noetl.runtime</c>; null when the worker never registered.</summary>
public sealed record HolderLiveness(string Status, double HeartbeatAgeSeconds);

public enum ClaimVerdict
{
    /// <summary>Write a <c>command.claimed</c> event and hand the command over.</summary>
    Grant,
    /// <summary>The same worker claims a command it already holds (CLAIMED): answer 200 again, write nothing.</summary>
    Repeat,
    /// <summary>The command or its execution is finished.</summary>
    Terminal,
    /// <summary>Another worker (or the same one, already running it) holds a live claim.</summary>
    Held,
}

public readonly record struct ClaimDecision(ClaimVerdict Verdict, string? ReclaimReason = null, bool HolderRunning = false);

/// <summary>
/// NoETL's lease and reclaim policy (noetl-api.md §4.2, <c>decide_reclaim_for_existing_claim</c>), as a pure function.
/// </summary>
public static class ClaimPolicy
{
    /// <summary>Whether deciding needs the holder's liveness (only when another worker's lease has expired).</summary>
    public static bool NeedsHolderLiveness(CommandRecord command, string workerId, DateTime nowUtc, ServerOptions options) =>
        IsHeld(command) && command.WorkerId != workerId && ClaimAge(command, nowUtc) >= options.ClaimLeaseSeconds;

    public static ClaimDecision Decide(
        CommandRecord command, bool executionTerminal, string workerId, DateTime nowUtc, ServerOptions options, HolderLiveness? holder)
    {
        if (executionTerminal || command.IsTerminal)
            return new(ClaimVerdict.Terminal);
        if (!IsHeld(command))
            return new(ClaimVerdict.Grant);

        var age = ClaimAge(command, nowUtc);
        if (command.WorkerId == workerId)
        {
            if (command.Status == "CLAIMED")
                return new(ClaimVerdict.Repeat);
            return age < options.HealthyWorkerHardTimeoutSeconds
                ? new(ClaimVerdict.Held, HolderRunning: true)
                : new(ClaimVerdict.Grant, "healthy_worker_hard_timeout");
        }

        if (age < options.ClaimLeaseSeconds)
            return new(ClaimVerdict.Held);
        if (holder is null || !string.Equals(holder.Status, "ready", StringComparison.OrdinalIgnoreCase))
            return new(ClaimVerdict.Grant, "worker_inactive");
        if (holder.HeartbeatAgeSeconds >= options.WorkerHeartbeatStaleSeconds)
            return new(ClaimVerdict.Grant, "worker_heartbeat_stale");
        return age < options.HealthyWorkerHardTimeoutSeconds
            ? new(ClaimVerdict.Held)
            : new(ClaimVerdict.Grant, "healthy_worker_hard_timeout");
    }

    /// <summary>
    /// Whether workers should be told about the command again: it is still PENDING long after its notification
    /// (the notification may be lost), or its holder's lease ran out and the holder looks gone (NoETL's reaper).
    /// It never completes anything: the next claim arbitrates through <see cref="Decide"/>.
    /// </summary>
    public static string? RenotifyReason(CommandRecord command, DateTime nowUtc, ServerOptions options, HolderLiveness? holder)
    {
        var sinceNotified = (nowUtc - command.NotifiedAt).TotalSeconds;
        if (command.Status == "PENDING")
            return sinceNotified >= options.CommandPendingRetrySeconds ? "pending_retry" : null;
        if (!IsHeld(command) || sinceNotified < options.ClaimLeaseSeconds || ClaimAge(command, nowUtc) < options.ClaimLeaseSeconds)
            return null;
        return Decide(command, false, "", nowUtc, options, holder) is { Verdict: ClaimVerdict.Grant, ReclaimReason: { } reason } ? reason : null;
    }

    private static bool IsHeld(CommandRecord command) => command.Status is "CLAIMED" or "RUNNING";

    private static double ClaimAge(CommandRecord command, DateTime nowUtc) =>
        (nowUtc - (command.ClaimedAt ?? command.StartedAt ?? nowUtc)).TotalSeconds;
}
