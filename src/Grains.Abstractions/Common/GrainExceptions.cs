namespace NoEtl.Grains;

/// <summary>PostgreSQL is unreachable or the pool is exhausted: the caller should answer 503 with <c>Retry-After</c>.</summary>
[GenerateSerializer, Alias("noetl.DatabaseUnavailableException")]
public sealed class DatabaseUnavailableException : Exception
{
    public DatabaseUnavailableException(string code, string message) : base(message) => Code = code;

    /// <summary>NoETL's <c>detail.code</c>: <c>db_unavailable</c> or <c>pool_saturated</c>.</summary>
    [Id(0)] public string Code { get; private set; }
}

/// <summary>
/// An unexpected failure inside a grain. The original exception is logged on the silo; only this
/// serializable summary crosses to the gateway, so internals (SQL, stack traces) never reach clients.
/// </summary>
[GenerateSerializer, Alias("noetl.GrainFailedException")]
public sealed class GrainFailedException(string message) : Exception(message);

/// <summary>
/// PostgreSQL refused a value the client sent (a NUL character, a number or date out of range, a row too large to
/// index): the caller should answer 422. The message says what was wrong in the SQLSTATE's terms, never the driver's text.
/// </summary>
[GenerateSerializer, Alias("noetl.InvalidInputException")]
public sealed class InvalidInputException : Exception
{
    public InvalidInputException(string sqlState, string message) : base(message) => SqlState = sqlState;

    [Id(0)] public string SqlState { get; private set; }
}
