namespace NoEtl.Worker.Commands;

/// <summary>What to do with a notification after trying to claim its command.</summary>
public enum ClaimDecision
{
    /// <summary>Claimed (200/201): ack the message, then run the command.</summary>
    Run,

    /// <summary>Another worker holds it, or it is terminal (409): ack and drop.</summary>
    Drop,

    /// <summary>Overload, transient or unexpected failure: nak with a delay so NATS redelivers (bounded by MaxDeliver).</summary>
    Retry,
}

public static class ClaimDecisions
{
    /// <summary>The NoETL worker mapping of claim status codes (Rust worker: anything not 2xx/409 is retried).</summary>
    public static ClaimDecision FromStatus(int status) => status switch
    {
        200 or 201 => ClaimDecision.Run,
        409 => ClaimDecision.Drop,
        _ => ClaimDecision.Retry,
    };

    /// <summary>Redelivery delay: the server's Retry-After if any, else grows with the delivery count, capped at 30 s.</summary>
    public static TimeSpan NakDelay(ulong deliveries, TimeSpan? retryAfter) =>
        retryAfter is { } hint && hint > TimeSpan.Zero
            ? (hint < TimeSpan.FromSeconds(30) ? hint : TimeSpan.FromSeconds(30))
            : TimeSpan.FromSeconds(Math.Min(30, Math.Max(1, (double)deliveries)));
}
