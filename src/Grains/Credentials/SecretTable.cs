using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Grains.Audit;
using NoEtl.Grains.Executions;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Credentials;

/// <summary>A table of sealed secrets (<c>data_encrypted</c>): its row key and the associated data that binds a ciphertext to its row.</summary>
public sealed record SecretTable(string Table, string KeyColumn, Func<string, string> Binding)
{
    public static readonly SecretTable Credential = new("noetl.credential", "name", SecretCipher.CredentialBinding);
    public static readonly SecretTable Keychain = new("noetl.keychain", "cache_key", SecretCipher.KeychainBinding);

    /// <summary>
    /// Rewrites one row's secret under the active key, only if the row still holds what was read: a concurrent write
    /// (already under the active key) is never overwritten with older data. Answers whether the row was rewritten.
    /// </summary>
    public async Task<bool> ResealAsync(NpgsqlDataSource database, SecretCipher cipher, string key, string stored, JsonObject data)
    {
        await using var update = database.CreateCommand($"UPDATE {Table} SET data_encrypted = $1 WHERE {KeyColumn} = $2 AND data_encrypted = $3");
        update.Parameters.AddWithValue(cipher.Seal(data, Binding(key)));
        update.Parameters.AddWithValue(key);
        update.Parameters.AddWithValue(stored);
        return await update.ExecuteNonQueryAsync() == 1;
    }

    /// <summary>
    /// Legacy plain JSON (NoETL's Python server) is read once: the read that finds it rewrites the row as an
    /// envelope in the same request and audits it as <c>credential.reencrypt</c>.
    /// </summary>
    public async Task ReencryptLegacyAsync(
        NpgsqlDataSource database, SecretCipher cipher, TurnWriter writer, string key, string stored, OpenedSecret opened, long? executionId)
    {
        if (!opened.IsLegacy || !await ResealAsync(database, cipher, key, stored, opened.Data))
            return;
        await writer.RecordAsync(AuditLog.Entry("credential.reencrypt", "ok", key, executionId,
            new JsonObject { ["table"] = Table, ["key_id"] = cipher.Keys.ActiveKeyId }));
    }
}
