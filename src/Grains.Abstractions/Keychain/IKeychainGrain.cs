namespace NoEtl.Grains;

/// <summary>Where a keychain entry is visible: one execution (local), an execution tree (shared), or the catalog entry (global).</summary>
[GenerateSerializer, Alias("noetl.KeychainScope")]
public enum KeychainScope
{
    Local,
    Global,
    Shared,
}

/// <summary>A keychain entry as posted to <c>POST /api/keychain/{catalog_id}/{keychain_name}</c>.</summary>
[GenerateSerializer, Immutable, Alias("noetl.KeychainEntryInput")]
public sealed record KeychainEntryInput(
    [property: Id(0)] string TokenDataJson,
    [property: Id(1)] string CredentialType,
    [property: Id(2)] string CacheType,
    [property: Id(3)] KeychainScope Scope,
    [property: Id(4)] long? ExecutionId,
    [property: Id(5)] long? ParentExecutionId,
    [property: Id(6)] int? TtlSeconds,
    [property: Id(7)] DateTimeOffset? ExpiresAt,
    [property: Id(8)] bool AutoRenew,
    [property: Id(9)] string? RenewConfigJson);

/// <summary>The keychain over <c>noetl.keychain</c>: cached secrets and tokens per catalog entry, encrypted at rest.</summary>
[Alias("noetl.IKeychainGrain")]
public interface IKeychainGrain : IGrainWithIntegerKey
{
    [Alias("Get")] Task<Reply> Get(long catalogId, string name, KeychainScope scope, long? executionId);

    [Alias("Put")] Task<Reply> Put(long catalogId, string name, KeychainEntryInput input);

    [Alias("Delete")] Task<Reply> Delete(long catalogId, string name, KeychainScope scope, long? executionId);

    [Alias("ListCatalog")] Task<Reply> ListCatalog(long catalogId);
}
