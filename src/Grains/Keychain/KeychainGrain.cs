using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Grains.Catalog;
using NoEtl.Grains.Credentials;
using NoEtl.Grains.Executions;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Security;
using Orleans.Concurrency;

namespace NoEtl.Grains.Keychain;

/// <summary>
/// NoETL's keychain routes (noetl-api.md §1.2 (26)). Reads answer 200 with a <c>status</c> of
/// <c>success</c>, <c>not_found</c> or <c>expired</c>; an expired entry is never served.
/// </summary>
[StatelessWorker]
public sealed class KeychainGrain(NpgsqlDataSource database, SecretCipher cipher, TurnWriter writer) : Grain, IKeychainGrain
{
    private const string EntryColumns =
        "cache_key, keychain_name, catalog_id, credential_type, cache_type, scope_type, execution_id, parent_execution_id, " +
        "data_encrypted, expires_at, accessed_at, access_count, auto_renew, renew_config::text, expires_at <= now()";

    public Task<Reply> Get(long catalogId, string name, KeychainScope scope, long? executionId) => DatabaseCall.Run(async () =>
    {
        if (await PoolGuard.CheckCatalogAsync(database, catalogId) is { } foreignPool)
            return foreignPool;
        if (KeychainEntries.CacheKey(name, catalogId, scope, executionId) is not { } cacheKey)
            return MissingExecution(scope);

        // Only a live entry counts as a read; an expired one is reported without its data.
        await using var touch = database.CreateCommand(
            $"""
            UPDATE noetl.keychain SET access_count = COALESCE(access_count, 0) + 1, accessed_at = now()
             WHERE cache_key = $1 AND expires_at > now()
            RETURNING {EntryColumns}
            """);
        touch.Parameters.AddWithValue(cacheKey);
        await using (var reader = await touch.ExecuteReaderAsync())
        {
            if (await reader.ReadAsync())
            {
                var entry = ReadEntry(reader);
                var stored = reader.GetString(8);
                OpenedSecret opened;
                try
                {
                    opened = cipher.Open(stored, SecretCipher.KeychainBinding(cacheKey));
                }
                catch (SecretUndecryptableException e)
                {
                    return CredentialReplies.Undecryptable("keychain entry", cacheKey, e);
                }
                await reader.DisposeAsync(); // before the rewrite: one connection at a time
                await SecretTable.Keychain.ReencryptLegacyAsync(database, cipher, writer, cacheKey, stored, opened, executionId);
                entry["token_data"] = opened.Data;
                entry["status"] = "success";
                return JsonReplies.Ok(entry);
            }
        }

        await using var peek = database.CreateCommand($"SELECT {EntryColumns} FROM noetl.keychain WHERE cache_key = $1");
        peek.Parameters.AddWithValue(cacheKey);
        await using var expired = await peek.ExecuteReaderAsync();
        if (await expired.ReadAsync())
        {
            var entry = ReadEntry(expired);
            entry["status"] = "expired";
            entry["token_data"] = null;
            return JsonReplies.Ok(entry);
        }
        return JsonReplies.Ok(new JsonObject
        {
            ["status"] = "not_found",
            ["keychain_name"] = name,
            ["catalog_id"] = catalogId.ToString(),
            ["cache_key"] = cacheKey,
            ["scope_type"] = KeychainEntries.ScopeName(scope),
            ["token_data"] = null,
            ["expired"] = false,
        });
    });

    public Task<Reply> Put(long catalogId, string name, KeychainEntryInput input) => DatabaseCall.Run(async () =>
    {
        if (await PoolGuard.CheckCatalogAsync(database, catalogId) is { } foreignPool)
            return foreignPool;
        if (KeychainEntries.CacheKey(name, catalogId, input.Scope, input.ExecutionId) is not { } cacheKey)
            return MissingExecution(input.Scope);
        if (JsonReplies.ParseOrNull(input.TokenDataJson) is not JsonObject data)
            return new Reply(ReplyStatus.Invalid, JsonReplies.FieldErrors([("body.token_data", "Input should be a valid dictionary")]));

        var now = DateTimeOffset.UtcNow;
        var expiresAt = input.ExpiresAt ?? now.AddSeconds(input.TtlSeconds ?? KeychainEntries.DefaultTtlSeconds(input.Scope));
        var stored = await KeychainEntries.UpsertAsync(database, cipher, cacheKey, name, catalogId, input.CredentialType, input.CacheType,
            input.Scope, input.ExecutionId, input.ParentExecutionId, data, expiresAt, input.AutoRenew, input.RenewConfigJson);
        if (!stored)
            return JsonReplies.NotFound("Catalog entry not found");
        return JsonReplies.Ok(new JsonObject
        {
            ["status"] = "success",
            ["message"] = $"Keychain entry '{name}' stored",
            ["keychain_name"] = name,
            ["catalog_id"] = catalogId.ToString(),
            ["cache_key"] = cacheKey,
            ["expires_at"] = expiresAt.ToString("O"),
            ["ttl_seconds"] = Math.Max(0, (int)Math.Round((expiresAt - now).TotalSeconds)),
            ["auto_renew"] = input.AutoRenew,
        });
    });

    public Task<Reply> Delete(long catalogId, string name, KeychainScope scope, long? executionId) => DatabaseCall.Run(async () =>
    {
        if (await PoolGuard.CheckCatalogAsync(database, catalogId) is { } foreignPool)
            return foreignPool;
        if (KeychainEntries.CacheKey(name, catalogId, scope, executionId) is not { } cacheKey)
            return MissingExecution(scope);
        await using var command = database.CreateCommand("DELETE FROM noetl.keychain WHERE cache_key = $1");
        command.Parameters.AddWithValue(cacheKey);
        var deleted = await command.ExecuteNonQueryAsync() > 0;
        // NoETL answers 200 either way and reports the outcome in "status".
        return JsonReplies.Ok(new JsonObject
        {
            ["status"] = deleted ? "success" : "error",
            ["message"] = deleted ? $"Keychain entry '{name}' deleted" : $"Keychain entry '{name}' not found",
            ["keychain_name"] = name,
            ["catalog_id"] = catalogId.ToString(),
            ["cache_key"] = cacheKey,
        });
    });

    public Task<Reply> ListCatalog(long catalogId) => DatabaseCall.Run(async () =>
    {
        if (await PoolGuard.CheckCatalogAsync(database, catalogId) is { } foreignPool)
            return foreignPool;
        await using var command = database.CreateCommand(
            $"SELECT {EntryColumns} FROM noetl.keychain WHERE catalog_id = $1 ORDER BY keychain_name, cache_key");
        command.Parameters.AddWithValue(catalogId);
        var entries = new JsonArray();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            entries.Add(ReadEntry(reader));
        return JsonReplies.Ok(new JsonObject
        {
            ["status"] = "success",
            ["catalog_id"] = catalogId.ToString(),
            ["entries"] = entries,
            ["count"] = entries.Count,
        });
    });

    /// <summary>An entry's metadata; never its data, which callers add only for live reads.</summary>
    private static JsonObject ReadEntry(NpgsqlDataReader reader)
    {
        var expiresAt = reader.GetFieldValue<DateTimeOffset>(9);
        return new JsonObject
        {
            ["keychain_name"] = reader.GetString(1),
            ["catalog_id"] = reader.GetInt64(2).ToString(),
            ["cache_key"] = reader.GetString(0),
            ["credential_type"] = reader.GetString(3),
            ["cache_type"] = reader.GetString(4),
            ["scope_type"] = reader.GetString(5),
            ["execution_id"] = reader.IsDBNull(6) ? null : reader.GetInt64(6).ToString(),
            ["parent_execution_id"] = reader.IsDBNull(7) ? null : reader.GetInt64(7).ToString(),
            ["expires_at"] = expiresAt.ToString("O"),
            ["ttl_seconds"] = Math.Max(0, (long)(expiresAt - DateTimeOffset.UtcNow).TotalSeconds),
            ["accessed_at"] = reader.GetFieldValue<DateTimeOffset>(10).ToString("O"),
            ["access_count"] = reader.IsDBNull(11) ? 0 : reader.GetInt32(11),
            ["auto_renew"] = !reader.IsDBNull(12) && reader.GetBoolean(12),
            ["renew_config"] = reader.IsDBNull(13) ? null : JsonNode.Parse(reader.GetString(13)),
            ["expired"] = reader.GetBoolean(14),
        };
    }

    private static Reply MissingExecution(KeychainScope scope) => new(ReplyStatus.Invalid,
        JsonReplies.FieldErrors([("execution_id", $"execution_id is required for scope_type '{KeychainEntries.ScopeName(scope)}'")]));
}
