namespace NoEtl.ApiGateway.Http;

/// <summary>
/// The gateway's bounds on what a client may send (docs/limits.md, "Request limits"). Bad input stops here as a 4xx
/// instead of reaching PostgreSQL, whose errors (NUL in text, an index row past 2,700 bytes, a negative OFFSET)
/// would otherwise surface as 500s.
/// </summary>
public static class RequestLimits
{
    /// <summary>
    /// Nesting of a JSON body. Stored bodies are answered again inside larger documents (an event's context inside the
    /// execution detail, a few levels down) that System.Text.Json writes and reads with its own ceiling of 64 levels:
    /// 32 leaves room for that wrapping.
    /// </summary>
    public const int MaxJsonDepth = 32;

    /// <summary>Identifiers (event name and step, worker id, pool name/runtime/status, credential name and type, query filters): indexed columns.</summary>
    public const int MaxIdentifierLength = 255;

    /// <summary>Free text (a cancel reason, a publisher's error, a description, a URI, a catalog path).</summary>
    public const int MaxTextLength = 64 * 1024;

    /// <summary>A whole request body, which bounds a playbook's YAML too; Kestrel answers 413 past it.</summary>
    public const long MaxBodyBytes = 16 * 1024 * 1024;

    /// <summary>Rows skipped by OFFSET paging of executions; deeper pages cost a scan for nothing anybody reads.</summary>
    public const int MaxExecutionOffset = 5_000;

    /// <summary>Rows skipped by OFFSET paging of an execution's events; <c>since_event_id</c> pages further at no cost.</summary>
    public const int MaxEventOffset = 1_000_000;

    /// <summary>Retention settings of <c>cleanup/purge</c>: a hundred years, in each field's unit.</summary>
    public const int MaxRetentionDays = 36_500;

    public const int MaxRetentionHours = MaxRetentionDays * 24;

    public const int MaxRetentionMinutes = MaxRetentionDays * 24 * 60;
}
