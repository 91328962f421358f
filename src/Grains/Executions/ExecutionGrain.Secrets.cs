using System.Text.Json.Nodes;
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
                CollectStrings(cipher.Open(reader.GetString(1), SecretCipher.KeychainBinding(reader.GetString(0))).Data, values);
            }
            catch (SecretUndecryptableException)
            {
                // An entry this silo cannot open holds nothing it could leak either.
            }
        }
        _secretValues = values;
        return values;
    }

    private static JsonObject Scrub(JsonObject payload, IReadOnlyCollection<string> secrets) =>
        Redactor.Redact(payload, Redactor.HeaderCredentialKeys, secrets) as JsonObject ?? [];

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
