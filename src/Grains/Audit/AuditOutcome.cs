namespace NoEtl.Grains.Audit;

public static class AuditOutcome
{
    /// <summary>The outcome word recorded for an outcome: ok, not_found, invalid, forbidden, conflict, unavailable.</summary>
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
