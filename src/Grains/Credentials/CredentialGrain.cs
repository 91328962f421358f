using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using NoEtl.Grains.Audit;
using NoEtl.Grains.Catalog;
using NoEtl.Grains.Executions;
using NoEtl.Grains.Keychain;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Security;
using Orleans.Concurrency;

namespace NoEtl.Grains.Credentials;

/// <summary>
/// NoETL's credential store (noetl-api.md §1.1 (10), §1.2 (11)) with <c>data_encrypted</c> actually encrypted:
/// AES-256-GCM envelopes bound to the credential's name. Plain-JSON rows left by NoETL's Python server are
/// re-encrypted by the first read that finds them (or by rotation); with <c>NOETL_LEGACY_CREDENTIALS=false</c> reads
/// refuse them and only rotation encrypts them.
/// </summary>
[StatelessWorker]
public sealed class CredentialGrain(NpgsqlDataSource database, SecretCipher cipher, SnowflakeIds ids, TurnWriter writer) : Grain, ICredentialGrain
{
    // The side-effect keychain entry a credential read leaves for the execution (NoETL: one hour).
    private static readonly TimeSpan ReadCacheLifetime = TimeSpan.FromHours(1);

    private const string Columns = "id, name, type, meta::text, tags, description, created_at, updated_at";

    public Task<Outcome<CredentialView>> Upsert(CredentialInput input) => Audited<CredentialView>("credential.write", input.Name, async (connection, transaction) =>
    {
        if (JsonInput.ParseOrNull(input.DataJson) is not JsonObject data)
            return Failure.Invalid("body.data", "Input should be a valid dictionary");

        await using var command = new NpgsqlCommand(
            $"""
            INSERT INTO noetl.credential (id, name, type, data_encrypted, meta, tags, description)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (name) DO UPDATE SET
                type = EXCLUDED.type, data_encrypted = EXCLUDED.data_encrypted, meta = EXCLUDED.meta,
                tags = EXCLUDED.tags, description = EXCLUDED.description, updated_at = now()
            RETURNING {Columns}
            """, connection, transaction);
        command.Parameters.AddWithValue(ids.Next());
        command.Parameters.AddWithValue(input.Name);
        command.Parameters.AddWithValue(input.Type);
        command.Parameters.AddWithValue(cipher.Seal(data, SecretCipher.CredentialBinding(input.Name)));
        command.Parameters.Add(new NpgsqlParameter { Value = input.MetaJson ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = input.Tags ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = input.Description ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return ReadCredential(reader);
    });

    public Task<Outcome<CredentialList>> List(string? type, string? query) => DatabaseCall.Run<CredentialList>(async () =>
    {
        // strpos instead of LIKE: the search text is matched literally, '%' and '_' included.
        await using var command = database.CreateCommand(
            $"""
            SELECT {Columns} FROM noetl.credential
             WHERE ($1::text IS NULL OR type = $1)
               AND ($2::text IS NULL OR strpos(lower(name), lower($2)) > 0 OR strpos(lower(COALESCE(description, '')), lower($2)) > 0)
             ORDER BY name
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = type ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = query ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var items = new List<CredentialView>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            items.Add(ReadCredential(reader));
        return new CredentialList(items, new CredentialFilter(type, query));
    });

    public Task<Outcome<CredentialView>> Get(string identifier, CredentialRead read) => DatabaseCall.Run<CredentialView>(async () =>
    {
        if (read.ExecutionId is { } forExecution && await PoolGuard.CheckExecutionAsync(database, forExecution, mustExist: read.IncludeData) is { } foreignPool)
            return foreignPool;
        await using var command = database.CreateCommand(
            $"""
            SELECT {Columns}, data_encrypted FROM noetl.credential
             WHERE id = $1 OR name = $2
             ORDER BY (id IS NOT DISTINCT FROM $1) DESC
             LIMIT 1
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = NumericId(identifier) ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.AddWithValue(identifier);
        CredentialView credential;
        string stored;
        await using (var reader = await command.ExecuteReaderAsync())
        {
            if (!await reader.ReadAsync())
                return Failure.NotFound("Credential not found");
            credential = ReadCredential(reader);
            stored = reader.GetString(8);
        }
        if (!read.IncludeData)
            return credential;

        var name = credential.Name;
        OpenedSecret opened;
        try
        {
            opened = cipher.Open(stored, SecretCipher.CredentialBinding(name));
        }
        catch (SecretUndecryptableException e)
        {
            return CredentialReplies.Undecryptable("credential", name, e);
        }
        await SecretTable.Credential.ReencryptLegacyAsync(database, cipher, writer, name, stored, opened, read.ExecutionId);
        var data = opened.Data;
        await CacheForExecutionAsync(name, credential.Type, data, read);
        await writer.RecordAsync(AuditLog.Entry("credential.read", "ok", name, read.ExecutionId));
        if (read.ExecutionId is { } executionId)
            GrainFactory.Reference<IExecutionGrain>(executionId).SecretsIssued().Ignore(); // scrub these values from its stored results
        return credential with { Data = new JsonText(data.ToJsonString()) };
    });

    public Task<Outcome<CredentialDeleted>> Delete(string identifier) => Audited<CredentialDeleted>("credential.delete", identifier, async (connection, transaction) =>
    {
        await using var command = new NpgsqlCommand(
            """
            DELETE FROM noetl.credential
             WHERE id = (SELECT id FROM noetl.credential WHERE id = $1 OR name = $2 ORDER BY (id IS NOT DISTINCT FROM $1) DESC LIMIT 1)
            RETURNING id, name
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = NumericId(identifier) ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.AddWithValue(identifier);
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
            return Failure.NotFound("Credential not found");
        return new CredentialDeleted(reader.GetInt64(0), reader.GetString(1));
    });

    /// <summary>Runs a credential change and its audit record in one transaction (a refused change is audited too).</summary>
    private Task<Outcome<T>> Audited<T>(string action, string resource, Func<NpgsqlConnection, NpgsqlTransaction, Task<Outcome<T>>> change)
        where T : class => DatabaseCall.Run<T>(async () =>
    {
        await using var connection = await database.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var outcome = await change(connection, transaction);
        await using (var audit = new NpgsqlBatch(connection, transaction) { BatchCommands = { AuditLog.Insert(action, AuditOutcome.Of(outcome), resource) } })
            await audit.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
        return outcome;
    });

    public Task<Outcome<CredentialRotation>> Rotate() => DatabaseCall.Run<CredentialRotation>(async () =>
    {
        var rotation = new CredentialRotation(cipher.Keys.ActiveKeyId,
            await RotateTableAsync(SecretTable.Credential), await RotateTableAsync(SecretTable.Keychain));
        await writer.RecordAsync(AuditLog.Entry("credential.rotate", rotation.Status, detail: new JsonObject
        {
            ["active_key_id"] = rotation.ActiveKeyId,
            ["credentials"] = AuditDetail(rotation.Credentials),
            ["keychain"] = AuditDetail(rotation.Keychain),
        }));
        return rotation;
    });

    private static JsonObject AuditDetail(RotationSummary summary) => new()
    {
        ["rotated"] = summary.Rotated,
        ["unchanged"] = summary.Unchanged,
        ["failed"] = new JsonArray([.. summary.Failed.Select(f => (JsonNode)f)]),
    };

    /// <summary>
    /// Re-seals every row not under the active key, legacy plain JSON included whatever NOETL_LEGACY_CREDENTIALS
    /// says (rotation is how those rows get encrypted). Undecryptable rows are reported by name, not fatal: the rest
    /// of the table still rotates.
    /// </summary>
    private async Task<RotationSummary> RotateTableAsync(SecretTable table)
    {
        var rows = new List<(string Key, string Stored)>();
        await using (var select = database.CreateCommand($"SELECT {table.KeyColumn}, data_encrypted FROM {table.Table} ORDER BY {table.KeyColumn}"))
        await using (var reader = await select.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                rows.Add((reader.GetString(0), reader.GetString(1)));

        int rotated = 0, unchanged = 0;
        var failed = new List<string>();
        foreach (var (key, stored) in rows)
        {
            OpenedSecret opened;
            try
            {
                opened = cipher.OpenIncludingLegacy(stored, table.Binding(key));
            }
            catch (SecretUndecryptableException)
            {
                failed.Add(key);
                continue;
            }
            if (!opened.NeedsReseal)
            {
                unchanged++;
                continue;
            }
            if (await table.ResealAsync(database, cipher, key, stored, opened.Data))
                rotated++;
            else
                unchanged++; // rewritten meanwhile, necessarily with the active key
        }
        return new RotationSummary(rotated, unchanged, failed);
    }

    /// <summary>
    /// NoETL's side effect of a data read: cache the plaintext in the keychain of the catalog entry the execution
    /// runs, for one hour — per execution (local) when an execution id is given, else for the catalog entry (global).
    /// </summary>
    private async Task CacheForExecutionAsync(string name, string type, JsonObject data, CredentialRead read)
    {
        var catalogId = read.CatalogId
            ?? await CatalogOfAsync(read.ExecutionId)
            ?? await CatalogOfAsync(read.ParentExecutionId);
        if (catalogId is not { } catalog)
            return;
        var scope = read.ExecutionId is null ? KeychainScope.Global : KeychainScope.Local;
        var cacheKey = KeychainEntries.CacheKey(name, catalog, scope, read.ExecutionId)!;
        await KeychainEntries.UpsertAsync(database, cipher, cacheKey, name, catalog, type, "secret", scope, read.ExecutionId,
            read.ParentExecutionId, data, DateTimeOffset.UtcNow.Add(ReadCacheLifetime), autoRenew: false, renewConfigJson: null);
    }

    private async Task<long?> CatalogOfAsync(long? executionId)
    {
        if (executionId is not { } id)
            return null;
        await using var command = database.CreateCommand("SELECT catalog_id FROM noetl.execution WHERE execution_id = $1");
        command.Parameters.AddWithValue(id);
        return await command.ExecuteScalarAsync() as long?;
    }

    private static long? NumericId(string identifier) =>
        identifier.Length > 0 && identifier.All(char.IsAsciiDigit) && long.TryParse(identifier, out var id) ? id : null;

    private static CredentialView ReadCredential(NpgsqlDataReader reader) => new(
        reader.GetInt64(0),
        reader.GetString(1),
        reader.GetString(2),
        JsonText.From(reader.IsDBNull(3) ? null : reader.GetString(3)),
        reader.IsDBNull(4) ? [] : reader.GetFieldValue<string[]>(4),
        reader.IsDBNull(5) ? null : reader.GetString(5),
        reader.GetFieldValue<DateTimeOffset>(6).ToString("O"),
        reader.GetFieldValue<DateTimeOffset>(7).ToString("O"));
}
