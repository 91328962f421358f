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

    public Task<Outcome<KeychainLookup>> Get(long catalogId, string name, KeychainScope scope, long? executionId) => DatabaseCall.Run<KeychainLookup>(async () =>
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
                return new KeychainLookup(new KeychainEntryRead(entry, new JsonText(opened.Data.ToJsonString())), null);
            }
        }

        await using var peek = database.CreateCommand($"SELECT {EntryColumns} FROM noetl.keychain WHERE cache_key = $1");
        peek.Parameters.AddWithValue(cacheKey);
        await using var expired = await peek.ExecuteReaderAsync();
        if (await expired.ReadAsync())
        {
            return new KeychainLookup(new KeychainEntryRead(ReadEntry(expired), null), null);
        }
        return new KeychainLookup(null, new KeychainMiss(name, catalogId, cacheKey, KeychainEntries.ScopeName(scope)));
    });

    public Task<Outcome<KeychainStored>> Put(long catalogId, string name, KeychainEntryInput input) => DatabaseCall.Run<KeychainStored>(async () =>
    {
        if (await PoolGuard.CheckCatalogAsync(database, catalogId) is { } foreignPool)
            return foreignPool;
        if (KeychainEntries.CacheKey(name, catalogId, input.Scope, input.ExecutionId) is not { } cacheKey)
            return MissingExecution(input.Scope);
        if (JsonInput.ParseOrNull(input.TokenDataJson) is not JsonObject data)
            return Failure.Invalid("body.token_data", "Input should be a valid dictionary");

        var now = DateTimeOffset.UtcNow;
        var expiresAt = input.ExpiresAt ?? now.AddSeconds(input.TtlSeconds ?? KeychainEntries.DefaultTtlSeconds(input.Scope));
        var stored = await KeychainEntries.UpsertAsync(database, cipher, cacheKey, name, catalogId, input.CredentialType, input.CacheType,
            input.Scope, input.ExecutionId, input.ParentExecutionId, data, expiresAt, input.AutoRenew, input.RenewConfigJson);
        if (!stored)
            return Failure.NotFound("Catalog entry not found");
        return new KeychainStored(name, catalogId, cacheKey, expiresAt.ToString("O"),
            Math.Max(0, (int)Math.Round((expiresAt - now).TotalSeconds)), input.AutoRenew);
    });

    public Task<Outcome<KeychainDeleted>> Delete(long catalogId, string name, KeychainScope scope, long? executionId) => DatabaseCall.Run<KeychainDeleted>(async () =>
    {
        if (await PoolGuard.CheckCatalogAsync(database, catalogId) is { } foreignPool)
            return foreignPool;
        if (KeychainEntries.CacheKey(name, catalogId, scope, executionId) is not { } cacheKey)
            return MissingExecution(scope);
        await using var command = database.CreateCommand("DELETE FROM noetl.keychain WHERE cache_key = $1");
        command.Parameters.AddWithValue(cacheKey);
        var deleted = await command.ExecuteNonQueryAsync() > 0;
        return new KeychainDeleted(deleted, name, catalogId, cacheKey);
    });

    public Task<Outcome<KeychainCatalog>> ListCatalog(long catalogId) => DatabaseCall.Run<KeychainCatalog>(async () =>
    {
        if (await PoolGuard.CheckCatalogAsync(database, catalogId) is { } foreignPool)
            return foreignPool;
        await using var command = database.CreateCommand(
            $"SELECT {EntryColumns} FROM noetl.keychain WHERE catalog_id = $1 ORDER BY keychain_name, cache_key");
        command.Parameters.AddWithValue(catalogId);
        var entries = new List<KeychainEntry>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            entries.Add(ReadEntry(reader));
        return new KeychainCatalog(catalogId, entries);
    });

    /// <summary>An entry's metadata; never its data, which callers add only for live reads.</summary>
    private static KeychainEntry ReadEntry(NpgsqlDataReader reader)
    {
        var expiresAt = reader.GetFieldValue<DateTimeOffset>(9);
        return new KeychainEntry(
            reader.GetString(1),
            reader.GetInt64(2),
            reader.GetString(0),
            reader.GetString(3),
            reader.GetString(4),
            reader.GetString(5),
            reader.IsDBNull(6) ? null : reader.GetInt64(6),
            reader.IsDBNull(7) ? null : reader.GetInt64(7),
            expiresAt.ToString("O"),
            Math.Max(0, (long)(expiresAt - DateTimeOffset.UtcNow).TotalSeconds),
            reader.GetFieldValue<DateTimeOffset>(10).ToString("O"),
            reader.IsDBNull(11) ? 0 : reader.GetInt32(11),
            !reader.IsDBNull(12) && reader.GetBoolean(12),
            JsonText.From(reader.IsDBNull(13) ? null : reader.GetString(13)),
            reader.GetBoolean(14));
    }

    private static Failure MissingExecution(KeychainScope scope) =>
        Failure.Invalid("execution_id", $"execution_id is required for scope_type '{KeychainEntries.ScopeName(scope)}'");
}
