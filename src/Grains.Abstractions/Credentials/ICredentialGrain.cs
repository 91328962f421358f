using System.Text.Json.Serialization;

namespace NoEtl.Grains;

/// <summary>A credential as posted to <c>POST /api/credentials</c>; JSON parts travel as text.</summary>
[GenerateSerializer, Immutable, Alias("noetl.CredentialInput")]
public sealed record CredentialInput(
    [property: Id(0)] string Name,
    [property: Id(1)] string Type,
    [property: Id(2)] string DataJson,
    [property: Id(3)] string? MetaJson,
    [property: Id(4)] string[]? Tags,
    [property: Id(5)] string? Description);

/// <summary>
/// How <c>GET /api/credentials/{id|name}</c> reads: with the plaintext data or not, and the execution context that
/// decides where the keychain caches it.
/// </summary>
[GenerateSerializer, Immutable, Alias("noetl.CredentialRead")]
public sealed record CredentialRead(
    [property: Id(0)] bool IncludeData,
    [property: Id(1)] long? CatalogId,
    [property: Id(2)] long? ExecutionId,
    [property: Id(3)] long? ParentExecutionId);

/// <summary>A credential as every route answers it: <c>data</c> only on a read with <c>include_data</c>, else null.</summary>
[GenerateSerializer, Immutable, Alias("noetl.CredentialView")]
public sealed record CredentialView(
    [property: Id(0), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long Id,
    [property: Id(1)] string Name,
    [property: Id(2)] string Type,
    [property: Id(3)] JsonText? Meta,
    [property: Id(4)] IReadOnlyList<string> Tags,
    [property: Id(5)] string? Description,
    [property: Id(6)] string CreatedAt,
    [property: Id(7)] string UpdatedAt,
    [property: Id(8)] JsonText? Data = null);

[GenerateSerializer, Immutable, Alias("noetl.CredentialFilter")]
public sealed record CredentialFilter([property: Id(0)] string? Type, [property: Id(1)] string? Q);

[GenerateSerializer, Immutable, Alias("noetl.CredentialList")]
public sealed record CredentialList([property: Id(0)] IReadOnlyList<CredentialView> Items, [property: Id(1)] CredentialFilter Filter);

[GenerateSerializer, Immutable, Alias("noetl.CredentialDeleted")]
public sealed record CredentialDeleted(
    [property: Id(0), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long Id,
    [property: Id(1)] string Name)
{
    [JsonPropertyOrder(-1)] public string Message => "Credential deleted successfully";
}

/// <summary>One table's rotation: rows re-sealed, rows already under the active key, rows that could not be opened (by key).</summary>
[GenerateSerializer, Immutable, Alias("noetl.RotationSummary")]
public sealed record RotationSummary([property: Id(0)] int Rotated, [property: Id(1)] int Unchanged, [property: Id(2)] IReadOnlyList<string> Failed);

/// <summary>A key rotation: <c>status</c> <c>ok</c>, or <c>partial</c> when some rows could not be opened.</summary>
[GenerateSerializer, Immutable, Alias("noetl.CredentialRotation")]
public sealed record CredentialRotation(
    [property: Id(0)] string ActiveKeyId,
    [property: Id(1)] RotationSummary Credentials,
    [property: Id(2)] RotationSummary Keychain)
{
    [JsonPropertyOrder(-1)] public string Status => Credentials.Failed.Count + Keychain.Failed.Count == 0 ? "ok" : "partial";
}

/// <summary>The credential store over <c>noetl.credential</c> (stateless: rows are the state, data encrypted at rest).</summary>
[Alias("noetl.ICredentialGrain")]
public interface ICredentialGrain : IGrainWithIntegerKey
{
    /// <summary>Creates or replaces the credential of that name.</summary>
    /// <remarks>Invalid (<c>body.data</c>); Unavailable.</remarks>
    [Alias("Upsert")] Task<Outcome<CredentialView>> Upsert(CredentialInput input);

    /// <remarks>Unavailable.</remarks>
    [Alias("List")] Task<Outcome<CredentialList>> List(string? type, string? query);

    /// <summary><paramref name="identifier"/> is the numeric id or the name.</summary>
    /// <remarks>NotFound; Forbidden (another pool's execution); Conflict (undecryptable); Unavailable.</remarks>
    [Alias("Get")] Task<Outcome<CredentialView>> Get(string identifier, CredentialRead read);

    /// <remarks>NotFound; Unavailable.</remarks>
    [Alias("Delete")] Task<Outcome<CredentialDeleted>> Delete(string identifier);

    /// <summary>Re-encrypts every credential and keychain row that is not under the active key (legacy plain JSON included).</summary>
    /// <remarks>Unavailable.</remarks>
    [Alias("Rotate")] Task<Outcome<CredentialRotation>> Rotate();
}
