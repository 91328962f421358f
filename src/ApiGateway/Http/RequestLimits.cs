using System.Text.Json;

namespace NoEtl.ApiGateway.Http;

/// <summary>
/// The gateway's bounds on what a client may send (docs/limits.md, "Request limits"). Bad input stops here as a 4xx
/// instead of reaching PostgreSQL, whose errors (NUL in text, an index row past 2,700 bytes, a negative OFFSET)
/// would otherwise surface as 500s.
/// </summary>
public sealed class RequestLimits
{
    /// <summary>
    /// The deepest a JSON body may nest (<c>NOETL_REQUEST_MAX_JSON_DEPTH</c>, at most 32). Stored bodies are answered
    /// again inside larger documents (an event's context inside the execution detail, a few levels down) that
    /// System.Text.Json writes and reads with its own ceiling of 64 levels: 32 leaves room for that wrapping.
    /// </summary>
    public int MaxJsonDepth { get; init; } = 32;

    /// <summary>
    /// Identifiers (event name and step, worker id, pool name/runtime/status, credential name and type, query filters):
    /// indexed columns, so at most 600 characters (<c>NOETL_REQUEST_MAX_IDENTIFIER_LENGTH</c>) — 2,400 bytes of UTF-8,
    /// under PostgreSQL's 2,700-byte index row.
    /// </summary>
    public int MaxIdentifierLength { get; init; } = 255;

    /// <summary>Free text (a cancel reason, a publisher's error, a description, a URI): <c>NOETL_REQUEST_MAX_TEXT_LENGTH</c>.</summary>
    public int MaxTextLength { get; init; } = 64 * 1024;

    /// <summary>A whole request body, which bounds a playbook's YAML too (<c>NOETL_REQUEST_MAX_BODY_BYTES</c>); Kestrel answers 413 past it.</summary>
    public long MaxBodyBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Rows skipped by OFFSET paging of executions; deeper pages cost a scan for nothing anybody reads.</summary>
    public const int MaxExecutionOffset = 5_000;

    /// <summary>Rows skipped by OFFSET paging of an execution's events (newest first); filters narrow deeper pages.</summary>
    public const int MaxEventOffset = 1_000_000;

    /// <summary>Retention settings of <c>cleanup/purge</c>: a hundred years, in each field's unit.</summary>
    public const int MaxRetentionDays = 36_500;

    public const int MaxRetentionMinutes = MaxRetentionDays * 24 * 60;

    /// <summary>The body reader's parser settings under these limits.</summary>
    public JsonDocumentOptions Json => new() { AllowDuplicateProperties = false, MaxDepth = MaxJsonDepth };

    /// <summary>The limits in force: a request-scoped lookup, so every route and filter reads the same settings.</summary>
    public static RequestLimits Of(HttpContext context) => context.RequestServices.GetRequiredService<RequestLimits>();

    /// <summary>Reads the settings; a value that is set but invalid stops the gateway with a message naming it.</summary>
    public static RequestLimits From(IConfiguration configuration) => new()
    {
        MaxJsonDepth = (int)Setting(configuration, "NOETL_REQUEST_MAX_JSON_DEPTH", 32, 1, 32),
        MaxIdentifierLength = (int)Setting(configuration, "NOETL_REQUEST_MAX_IDENTIFIER_LENGTH", 255, 1, 600),
        MaxTextLength = (int)Setting(configuration, "NOETL_REQUEST_MAX_TEXT_LENGTH", 64 * 1024, 1, 16 * 1024 * 1024),
        MaxBodyBytes = Setting(configuration, "NOETL_REQUEST_MAX_BODY_BYTES", 16 * 1024 * 1024, 1024, 1024L * 1024 * 1024),
    };

    private static long Setting(IConfiguration configuration, string key, long fallback, long min, long max)
    {
        var text = configuration[key];
        if (string.IsNullOrWhiteSpace(text))
            return fallback;
        return long.TryParse(text, out var value) && value >= min && value <= max
            ? value
            : throw new InvalidOperationException($"{key} must be an integer from {min} to {max}, not '{text}'");
    }
}
