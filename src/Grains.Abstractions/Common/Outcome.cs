namespace NoEtl.Grains;

/// <summary>Why a grain refused a call: the closed set of refusals a typed grain method may answer.</summary>
public enum FailureKind
{
    /// <summary>The call refers to something that does not exist.</summary>
    NotFound,
    /// <summary>The caller may not do this (a pool managing another pool's worker).</summary>
    Forbidden,
    /// <summary>The call conflicts with the current state.</summary>
    Conflict,
    /// <summary>The call is well formed but semantically invalid (an invalid playbook).</summary>
    Invalid,
    /// <summary>A dependency (PostgreSQL, the commit queue) is unavailable or saturated; retry after <see cref="Failure.RetryAfterSeconds"/>.</summary>
    Unavailable,
    /// <summary>The call carries more data than the server keeps.</summary>
    TooLarge,
}

/// <summary>
/// A grain's refusal, independent of HTTP: a kind, a machine-readable code (null for a plain message), a message, the
/// request field it concerns (<see cref="FailureKind.Invalid"/>, dotted: <c>body.token_data</c>), the name of the
/// thing refused, and further members of a coded refusal (<see cref="Extra"/>: a claim's holder, a lease epoch). The gateway renders it as the contract's <c>{"detail": ...}</c> document; grains never see that shape.
/// </summary>
[GenerateSerializer, Immutable, Alias("noetl.Failure")]
public sealed record Failure(
    [property: Id(0)] FailureKind Kind,
    [property: Id(1)] string? Code,
    [property: Id(2)] string Message,
    [property: Id(3)] int? RetryAfterSeconds = null,
    [property: Id(4)] string? Field = null,
    [property: Id(5)] string? Subject = null,
    [property: Id(6)] IReadOnlyList<FieldFailure>? Fields = null,
    [property: Id(7)] JsonText? Extra = null)
{
    public static Failure Invalid(string field, string message) => new(FailureKind.Invalid, null, message, Field: field);

    /// <summary>Several refused fields at once (a playbook's errors), answered together as one 422.</summary>
    public static Failure Invalid(IReadOnlyList<FieldFailure> fields) => new(FailureKind.Invalid, null, fields[0].Message, Field: fields[0].Field, Fields: fields);

    /// <summary>Invalid as a whole, about no one field (answered <c>{"detail": message}</c>).</summary>
    public static Failure Invalid(string message) => new(FailureKind.Invalid, null, message);

    public static Failure Conflict(string code, string message, string? subject = null) => new(FailureKind.Conflict, code, message, Subject: subject);

    public static Failure TooLarge(string message) => new(FailureKind.TooLarge, null, message);

    public static Failure NotFound(string message) => new(FailureKind.NotFound, null, message);

    public static Failure Forbidden(string code, string message) => new(FailureKind.Forbidden, code, message);

    public static Failure Unavailable(string code, string message, int retryAfterSeconds) => new(FailureKind.Unavailable, code, message, retryAfterSeconds);
}

/// <summary>One refused request field, dotted (<c>body.workflow</c>), and why.</summary>
[GenerateSerializer, Immutable, Alias("noetl.FieldFailure")]
public sealed record FieldFailure([property: Id(0)] string Field, [property: Id(1)] string Message);

/// <summary>What a typed grain method answers: its result, or a <see cref="Failure"/>; exactly one is set.</summary>
[GenerateSerializer, Immutable, Alias("noetl.Outcome`1")]
public sealed record Outcome<T>([property: Id(0)] T? Value, [property: Id(1)] Failure? Failure)
    where T : class
{
    public static implicit operator Outcome<T>(T value) => new(value, null);

    public static implicit operator Outcome<T>(Failure failure) => new(null, failure);
}
