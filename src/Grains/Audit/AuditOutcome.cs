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
}
