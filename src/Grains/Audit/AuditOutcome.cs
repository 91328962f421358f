namespace NoEtl.Grains.Audit;

public static class AuditOutcome
{
    /// <summary>The outcome word recorded for a reply: ok, not_found, invalid, forbidden, conflict, unavailable.</summary>
    public static string Of(Reply reply) => reply.Status switch
    {
        ReplyStatus.Ok or ReplyStatus.Accepted => "ok",
        ReplyStatus.NotFound => "not_found",
        ReplyStatus.Invalid => "invalid",
        ReplyStatus.Forbidden => "forbidden",
        ReplyStatus.Conflict => "conflict",
        _ => "unavailable",
    };

    public static string Of<T>(Outcome<T> outcome)
        where T : class => outcome.Failure?.Kind switch
        {
            null => "ok",
            FailureKind.NotFound => "not_found",
            FailureKind.Invalid => "invalid",
            FailureKind.Forbidden => "forbidden",
            FailureKind.Conflict => "conflict",
            _ => "unavailable",
        };
}
