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
        await using var command = database.CreateCommand(
            """
            INSERT INTO noetl.keychain (cache_key, keychain_name, catalog_id, credential_type, cache_type, scope_type,
                                        execution_id, parent_execution_id, data_encrypted, expires_at, auto_renew, renew_config)
            SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
             WHERE EXISTS (SELECT 1 FROM noetl.catalog WHERE catalog_id = $3)
            ON CONFLICT (cache_key) DO UPDATE SET
                credential_type = EXCLUDED.credential_type, cache_type = EXCLUDED.cache_type, scope_type = EXCLUDED.scope_type,
                execution_id = EXCLUDED.execution_id, parent_execution_id = EXCLUDED.parent_execution_id,
                data_encrypted = EXCLUDED.data_encrypted, expires_at = EXCLUDED.expires_at,
                auto_renew = EXCLUDED.auto_renew, renew_config = EXCLUDED.renew_config
            """);
        command.Parameters.AddWithValue(cacheKey);
        command.Parameters.AddWithValue(name);
        command.Parameters.AddWithValue(catalogId);
        command.Parameters.AddWithValue(credentialType);
        command.Parameters.AddWithValue(cacheType);
        command.Parameters.AddWithValue(ScopeName(scope));
        command.Parameters.Add(new NpgsqlParameter { Value = executionId ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = parentExecutionId ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.AddWithValue(cipher.Seal(data, SecretCipher.KeychainBinding(cacheKey)));
        command.Parameters.Add(new NpgsqlParameter { Value = expiresAt.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.AddWithValue(autoRenew);
        command.Parameters.Add(new NpgsqlParameter { Value = renewConfigJson ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Jsonb });
        return await command.ExecuteNonQueryAsync() == 1;
    }
}
