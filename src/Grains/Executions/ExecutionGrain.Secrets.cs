using System.Text.Json.Nodes;
using NoEtl.Grains.Commands;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Executions;

// Secrets never reach the log: values of credentials read for this execution (cached in its keychain entries)
// and credential-looking keys are scrubbed from worker payloads before they are stored, and read paths are
// redacted again at the response boundary.
public sealed partial class ExecutionGrain
{
    private HashSet<string>? _secretValues;

    public Task SecretsIssued()
    {
        _secretValues = null; // reload on the next stored result
        return Task.CompletedTask;
    }

    private async Task<IReadOnlyCollection<string>> SecretValuesAsync()
    {
        if (_secretValues is not null)
            return _secretValues;
        var values = new HashSet<string>(StringComparer.Ordinal);
        await using var command = database.CreateCommand(
            "SELECT cache_key, data_encrypted FROM noetl.keychain WHERE execution_id = $1 OR parent_execution_id = $1");
        command.Parameters.AddWithValue(ExecutionId);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            try
            {
                // Legacy entries too, whatever NOETL_LEGACY_CREDENTIALS says: collecting values to scrub serves nothing.
                CollectStrings(cipher.OpenIncludingLegacy(reader.GetString(1), SecretCipher.KeychainBinding(reader.GetString(0))).Data, values);
            }
            catch (SecretUndecryptableException)
            {
                // An entry this silo cannot open holds nothing it could leak either.
            }
        }
        _secretValues = values;
        return values;
    }

    /// <summary>Values by NoETL's rules, and keys too: a secret used as an object key must not reach a row either.</summary>
    private static JsonObject Scrub(JsonObject payload, IReadOnlyCollection<string> secrets) =>
        Redactor.ScrubSecretKeys(Redactor.Redact(payload, Redactor.HeaderCredentialKeys, secrets), secrets) as JsonObject ?? [];

    /// <summary>The request's <c>meta</c>, scrubbed like payloads, without the claim's lease token.</summary>
    private static JsonObject ScrubMeta(JsonObject? meta, IReadOnlyCollection<string> secrets)
    {
        if (meta is null)
            return [];
        var copy = Scrub(meta, secrets);
        EventBinding.RemoveLeaseToken(copy);
        return copy;
    }

    /// <summary>
    /// Identifiers (event name, step, worker id) are indexed and shown as they are, so one that carries a secret
    /// is refused rather than stored in a mangled form.
    /// </summary>
    private static Reply? SecretInIdentifiers(IReadOnlyCollection<string> secrets, params (string Field, string? Value)[] identifiers)
    {
        foreach (var (field, value) in identifiers)
            if (value is not null && Redactor.ContainsSecretValue(value, secrets))
                return new Reply(ReplyStatus.Invalid, JsonReplies.FieldErrors([($"body.{field}",
                    $"{field} carries the value of a credential read for this execution; secrets are never stored")]));
        return null;
    }

    private static void CollectStrings(JsonNode? node, HashSet<string> values)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, value) in o)
                    CollectStrings(value, values);
                break;
            case JsonArray a:
                foreach (var item in a)
                    CollectStrings(item, values);
                break;
            case JsonValue v when v.TryGetValue<string>(out var text) && text.Length >= 4:
                values.Add(text);
                break;
        }
    }
}
