namespace NoEtl.Grains;

/// <summary>
/// What a grain answers to an API call, independent of HTTP: the outcome class and the contract's JSON document.
/// The gateway maps the outcome to a status code; grains never see HTTP.
/// </summary>
public enum ReplyStatus
{
    Ok,
    Accepted,
    /// <summary>The request was well formed but refers to something that does not exist.</summary>
    NotFound,
    /// <summary>The caller is authenticated but may not do this (a pool claiming another pool's command).</summary>
    Forbidden,
    /// <summary>The request conflicts with the current state (a claimed or terminal command, a terminal execution).</summary>
    Conflict,
    /// <summary>The request is semantically invalid (field errors, an invalid playbook).</summary>
    Invalid,
    /// <summary>A dependency (PostgreSQL) is unavailable or saturated; retry later.</summary>
    Unavailable,
    /// <summary>The request carries more data than the server keeps (a result over the result store's cap).</summary>
    TooLarge,
}

[GenerateSerializer, Immutable, Alias("noetl.Reply")]
public sealed record Reply(
    [property: Id(0)] ReplyStatus Status,
    [property: Id(1)] string Body,
    [property: Id(2)] int? RetryAfterSeconds = null)
{
    public bool IsOk => Status is ReplyStatus.Ok or ReplyStatus.Accepted;
}
