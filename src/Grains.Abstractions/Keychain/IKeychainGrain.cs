using System.Text.Json.Serialization;

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

/// <summary>An entry's metadata as every keychain answer shows it; ids are strings, times ISO 8601 text.</summary>
[GenerateSerializer, Immutable, Alias("noetl.KeychainEntry")]
public record KeychainEntry(
    [property: Id(0)] string KeychainName,
    [property: Id(1), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long CatalogId,
    [property: Id(2)] string CacheKey,
    [property: Id(3)] string CredentialType,
    [property: Id(4)] string CacheType,
    [property: Id(5)] string ScopeType,
    [property: Id(6), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long? ExecutionId,
    [property: Id(7), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long? ParentExecutionId,
    [property: Id(8)] string ExpiresAt,
    [property: Id(9)] long TtlSeconds,
    [property: Id(10)] string AccessedAt,
    [property: Id(11)] int AccessCount,
    [property: Id(12)] bool AutoRenew,
    [property: Id(13)] JsonText? RenewConfig,
    [property: Id(14)] bool Expired);

/// <summary>A stored entry read: <c>status</c> <c>success</c> with its <c>token_data</c>, or <c>expired</c> with <c>token_data</c> null.</summary>
[GenerateSerializer, Immutable, Alias("noetl.KeychainEntryRead")]
public sealed record KeychainEntryRead : KeychainEntry
{
    public KeychainEntryRead(KeychainEntry entry, JsonText? tokenData) : base(entry)
    {
        TokenData = tokenData;
        Status = tokenData is null ? "expired" : "success";
    }

    [Id(0)] public JsonText? TokenData { get; init; }

    [Id(1)] public string Status { get; init; }
}

/// <summary>No entry under the key: <c>status</c> <c>not_found</c> (NoETL answers 200 with this document).</summary>
[GenerateSerializer, Immutable, Alias("noetl.KeychainMiss")]
public sealed record KeychainMiss(
    [property: Id(0)] string KeychainName,
    [property: Id(1), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long CatalogId,
    [property: Id(2)] string CacheKey,
    [property: Id(3)] string ScopeType)
{
    [JsonPropertyOrder(-1)] public string Status => "not_found";

    public JsonText? TokenData => null;

    public bool Expired => false;
}

/// <summary>What a keychain read found: exactly one of the two is set.</summary>
[GenerateSerializer, Immutable, Alias("noetl.KeychainLookup")]
public sealed record KeychainLookup([property: Id(0)] KeychainEntryRead? Found, [property: Id(1)] KeychainMiss? Missing);

[GenerateSerializer, Immutable, Alias("noetl.KeychainStored")]
public sealed record KeychainStored(
    [property: Id(0)] string KeychainName,
    [property: Id(1), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long CatalogId,
    [property: Id(2)] string CacheKey,
    [property: Id(3)] string ExpiresAt,
    [property: Id(4)] int TtlSeconds,
    [property: Id(5)] bool AutoRenew)
{
    [JsonPropertyOrder(-2)] public string Status => "success";

    [JsonPropertyOrder(-1)] public string Message => $"Keychain entry '{KeychainName}' stored";
}

/// <summary>A delete: NoETL answers 200 either way, <c>status</c> <c>success</c> or <c>error</c> (nothing to delete).</summary>
[GenerateSerializer, Immutable, Alias("noetl.KeychainDeleted")]
public sealed record KeychainDeleted(
    [property: Id(0), JsonIgnore] bool Deleted,
    [property: Id(1)] string KeychainName,
    [property: Id(2), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long CatalogId,
    [property: Id(3)] string CacheKey)
{
    [JsonPropertyOrder(-2)] public string Status => Deleted ? "success" : "error";

    [JsonPropertyOrder(-1)] public string Message => Deleted ? $"Keychain entry '{KeychainName}' deleted" : $"Keychain entry '{KeychainName}' not found";
}

[GenerateSerializer, Immutable, Alias("noetl.KeychainCatalog")]
public sealed record KeychainCatalog(
    [property: Id(0), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long CatalogId,
    [property: Id(1)] IReadOnlyList<KeychainEntry> Entries)
{
    [JsonPropertyOrder(-1)] public string Status => "success";

    public int Count => Entries.Count;
}

/// <summary>The keychain over <c>noetl.keychain</c>: cached secrets and tokens per catalog entry, encrypted at rest.</summary>
[Alias("noetl.IKeychainGrain")]
public interface IKeychainGrain : IGrainWithIntegerKey
{
    /// <summary>Forbidden (<c>wrong_pool</c>); Invalid (<c>execution_id</c> missing for its scope); Conflict (undecryptable); Unavailable.</summary>
    [Alias("Get")] Task<Outcome<KeychainLookup>> Get(long catalogId, string name, KeychainScope scope, long? executionId);

    /// <summary>NotFound (the catalog entry); Forbidden; Invalid; Unavailable.</summary>
    [Alias("Put")] Task<Outcome<KeychainStored>> Put(long catalogId, string name, KeychainEntryInput input);

    /// <summary>Forbidden; Invalid; Unavailable.</summary>
    [Alias("Delete")] Task<Outcome<KeychainDeleted>> Delete(long catalogId, string name, KeychainScope scope, long? executionId);

    /// <summary>Forbidden; Unavailable.</summary>
    [Alias("ListCatalog")] Task<Outcome<KeychainCatalog>> ListCatalog(long catalogId);
}
