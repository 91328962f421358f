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

/// <summary>The credential store over <c>noetl.credential</c> (stateless: rows are the state, data encrypted at rest).</summary>
[Alias("noetl.ICredentialGrain")]
public interface ICredentialGrain : IGrainWithIntegerKey
{
    /// <summary>Creates or replaces the credential of that name.</summary>
    [Alias("Upsert")] Task<Reply> Upsert(CredentialInput input);

    [Alias("List")] Task<Reply> List(string? type, string? query);

    /// <summary><paramref name="identifier"/> is the numeric id or the name.</summary>
    [Alias("Get")] Task<Reply> Get(string identifier, CredentialRead read);

    [Alias("Delete")] Task<Reply> Delete(string identifier);

    /// <summary>Re-encrypts every credential and keychain row that is not under the active key (legacy plain JSON included).</summary>
    [Alias("Rotate")] Task<Reply> Rotate();
}
