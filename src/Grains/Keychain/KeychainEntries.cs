using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Keychain;

/// <summary>NoETL's keychain cache keys and the one upsert shared by the keychain routes and credential reads.</summary>
public static class KeychainEntries
{
    public const int LocalTtlSeconds = 3600;
    public const int SharedTtlSeconds = 86400;

    public static string ScopeName(KeychainScope scope) => scope switch
    {
        KeychainScope.Local => "local",
        KeychainScope.Shared => "shared",
        _ => "global",
    };

    public static int DefaultTtlSeconds(KeychainScope scope) => scope == KeychainScope.Local ? LocalTtlSeconds : SharedTtlSeconds;

    /// <summary>
    /// local <c>&lt;name&gt;:&lt;catalog_id&gt;:&lt;execution_id&gt;</c>, shared <c>&lt;name&gt;:&lt;catalog_id&gt;:shared:&lt;execution_id&gt;</c>,
    /// global <c>&lt;name&gt;:&lt;catalog_id&gt;:global</c>; null when a local or shared key lacks its execution id.
    /// </summary>
    public static string? CacheKey(string name, long catalogId, KeychainScope scope, long? executionId) => scope switch
    {
        KeychainScope.Global => $"{name}:{catalogId}:global",
        KeychainScope.Local when executionId is { } id => $"{name}:{catalogId}:{id}",
        KeychainScope.Shared when executionId is { } id => $"{name}:{catalogId}:shared:{id}",
        _ => null,
    };

    /// <summary>
    /// Stores (or replaces) an entry with its data sealed under the active key. Answers false, writing nothing,
    /// when the catalog entry does not exist (the table's foreign key would otherwise fail the statement).
    /// </summary>
    public static async Task<bool> UpsertAsync(
        NpgsqlDataSource database, SecretCipher cipher, string cacheKey, string name, long catalogId, string credentialType, string cacheType,
        KeychainScope scope, long? executionId, long? parentExecutionId, JsonObject data, DateTimeOffset expiresAt, bool autoRenew, string? renewConfigJson)
    {
        var row = new KeychainRow(cacheKey, name, catalogId, credentialType, cacheType, scope, executionId, parentExecutionId,
            cipher.Seal(data, SecretCipher.KeychainBinding(cacheKey)), expiresAt, autoRenew, renewConfigJson);
        await using var batch = database.CreateBatch();
        batch.BatchCommands.Add(Upsert([row]));
        return await batch.ExecuteNonQueryAsync() == 1;
    }

    /// <summary>
    /// One multi-row upsert of <paramref name="rows"/>, for a caller's own batch (an execution's start turn writes its
    /// entries in the same transaction as its events). Rows of a catalog entry that does not exist are skipped.
    /// </summary>
    public static NpgsqlBatchCommand Upsert(IReadOnlyCollection<KeychainRow> rows) => new(
        """
        INSERT INTO noetl.keychain (cache_key, keychain_name, catalog_id, credential_type, cache_type, scope_type,
                                    execution_id, parent_execution_id, data_encrypted, expires_at, auto_renew, renew_config)
        SELECT k.cache_key, k.keychain_name, k.catalog_id, k.credential_type, k.cache_type, k.scope_type, k.execution_id,
               k.parent_execution_id, k.data_encrypted, k.expires_at, k.auto_renew, k.renew_config::jsonb
          FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[],
                      $9::text[], $10::timestamptz[], $11::boolean[], $12::text[])
               AS k(cache_key, keychain_name, catalog_id, credential_type, cache_type, scope_type, execution_id,
                    parent_execution_id, data_encrypted, expires_at, auto_renew, renew_config)
         WHERE EXISTS (SELECT 1 FROM noetl.catalog c WHERE c.catalog_id = k.catalog_id)
        ON CONFLICT (cache_key) DO UPDATE SET
            credential_type = EXCLUDED.credential_type, cache_type = EXCLUDED.cache_type, scope_type = EXCLUDED.scope_type,
            execution_id = EXCLUDED.execution_id, parent_execution_id = EXCLUDED.parent_execution_id,
            data_encrypted = EXCLUDED.data_encrypted, expires_at = EXCLUDED.expires_at,
            auto_renew = EXCLUDED.auto_renew, renew_config = EXCLUDED.renew_config
        """)
    {
        Parameters =
        {
            new() { Value = rows.Select(r => r.CacheKey).ToArray() },
            new() { Value = rows.Select(r => r.Name).ToArray() },
            new() { Value = rows.Select(r => r.CatalogId).ToArray() },
            new() { Value = rows.Select(r => r.CredentialType).ToArray() },
            new() { Value = rows.Select(r => r.CacheType).ToArray() },
            new() { Value = rows.Select(r => ScopeName(r.Scope)).ToArray() },
            new() { Value = rows.Select(r => r.ExecutionId).ToArray() },
            new() { Value = rows.Select(r => r.ParentExecutionId).ToArray() },
            new() { Value = rows.Select(r => r.DataEncrypted).ToArray() },
            new() { Value = rows.Select(r => r.ExpiresAt.UtcDateTime).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
            new() { Value = rows.Select(r => r.AutoRenew).ToArray() },
            new() { Value = rows.Select(r => r.RenewConfigJson).ToArray() },
        },
    };
}

/// <summary>One <c>noetl.keychain</c> row, its data already sealed to its cache key.</summary>
public sealed record KeychainRow(
    string CacheKey,
    string Name,
    long CatalogId,
    string CredentialType,
    string CacheType,
    KeychainScope Scope,
    long? ExecutionId,
    long? ParentExecutionId,
    string DataEncrypted,
    DateTimeOffset ExpiresAt,
    bool AutoRenew,
    string? RenewConfigJson);
