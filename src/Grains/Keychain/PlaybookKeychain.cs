using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Grains.Credentials;
using NoEtl.Grains.Executions;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Keychain;

/// <summary>
/// The playbook's <c>keychain:</c> section, resolved at execute time: each entry that names a stored credential
/// (<c>credential: &lt;alias&gt;</c>) becomes a row of the execution's keychain, sealed under NoETL's cache key for
/// its scope (<c>local</c> by default), with the scope's TTL. The rows are written by the execution's start turn,
/// so an execution never exists without its keychain. Other kinds (OAuth token flows, secret managers) are not
/// resolved here; the worker resolves what it is given.
/// </summary>
public static class PlaybookKeychain
{
    public sealed record Outcome(IReadOnlyList<KeychainRow> Rows, IReadOnlyList<string> Skipped);

    public static async Task<Outcome> ResolveAsync(
        NpgsqlDataSource database, SecretCipher cipher, TurnWriter writer, JsonArray? section, long catalogId, long executionId, long? parentExecutionId)
    {
        var rows = new List<KeychainRow>();
        var skipped = new List<string>();
        foreach (var entry in section?.OfType<JsonObject>() ?? [])
        {
            var name = Text(entry["name"]);
            var alias = Text(entry["credential"]) ?? Text(entry["auth"]);
            if (name is null || alias is null)
            {
                skipped.Add(name ?? "(unnamed)");
                continue;
            }
            var scope = Text(entry["scope"])?.ToLowerInvariant() switch
            {
                "global" => KeychainScope.Global,
                "shared" => KeychainScope.Shared,
                _ => KeychainScope.Local,
            };
            if (await ReadCredentialAsync(database, cipher, writer, alias, executionId) is not { } credential)
            {
                skipped.Add(name);
                continue;
            }
            var cacheKey = KeychainEntries.CacheKey(name, catalogId, scope, executionId)!;
            var ttl = entry["ttl_seconds"] is JsonValue v && v.TryGetValue<int>(out var seconds) && seconds > 0
                ? seconds
                : KeychainEntries.DefaultTtlSeconds(scope);
            rows.Add(new KeychainRow(cacheKey, name, catalogId, credential.Type, "secret", scope,
                scope == KeychainScope.Global ? null : executionId, parentExecutionId,
                cipher.Seal(credential.Data, SecretCipher.KeychainBinding(cacheKey)), DateTimeOffset.UtcNow.AddSeconds(ttl),
                AutoRenew: false, RenewConfigJson: null));
        }
        return new Outcome(rows, skipped);
    }

    private static async Task<(string Type, JsonObject Data)?> ReadCredentialAsync(
        NpgsqlDataSource database, SecretCipher cipher, TurnWriter writer, string alias, long executionId)
    {
        string type, stored;
        await using (var command = database.CreateCommand("SELECT type, data_encrypted FROM noetl.credential WHERE name = $1"))
        {
            command.Parameters.AddWithValue(alias);
            await using var reader = await command.ExecuteReaderAsync();
            if (!await reader.ReadAsync())
                return null;
            (type, stored) = (reader.GetString(0), reader.GetString(1));
        }
        OpenedSecret opened;
        try
        {
            opened = cipher.Open(stored, SecretCipher.CredentialBinding(alias));
        }
        catch (SecretUndecryptableException)
        {
            return null;
        }
        await SecretTable.Credential.ReencryptLegacyAsync(database, cipher, writer, alias, stored, opened, executionId);
        return (type, opened.Data);
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;
}
