using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;

namespace NoEtl.Worker.Runtime;

/// <summary>
/// Secrets the worker holds itself: the env vars named by the NOETL_KEYCHAIN_ENV_VARS allow-list (for example
/// NOETL_INTERNAL_API_TOKEN on the system pool). Templates reach them as <c>keychain.NAME</c> / <c>secrets.NAME</c>,
/// and <c>auth.credential: NAME</c> checks here before asking the server. Values are never logged, and
/// <see cref="Scrub"/> removes them from results before they are posted back.
/// </summary>
public sealed class WorkerKeychain
{
    private const string Redacted = "[REDACTED]";

    private readonly Dictionary<string, string> _secrets;

    public WorkerKeychain(IReadOnlyDictionary<string, string> secrets) =>
        _secrets = new Dictionary<string, string>(secrets, StringComparer.Ordinal);

    public static WorkerKeychain FromConfiguration(IConfiguration config, IEnumerable<string> allowList) =>
        new(allowList.Select(name => (name, value: config[name]))
            .Where(p => !string.IsNullOrEmpty(p.value))
            .ToDictionary(p => p.name, p => p.value!, StringComparer.Ordinal));

    public bool TryGet(string name, out string value) => _secrets.TryGetValue(name, out value!);

    public JsonObject ToJson() => new(_secrets.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value))));

    /// <summary>Replaces keychain values (exact, or contained when 8+ chars long) inside every string of <paramref name="node"/>.</summary>
    public JsonNode? Scrub(JsonNode? node)
    {
        if (_secrets.Count == 0 || node is null)
        {
            return node;
        }
        switch (node)
        {
            case JsonObject obj:
                foreach (var key in obj.Select(p => p.Key).ToList())
                {
                    ReplaceChanged(obj[key], scrubbed => obj[key] = scrubbed);
                }
                return obj;
            case JsonArray arr:
                for (var i = 0; i < arr.Count; i++)
                {
                    var index = i;
                    ReplaceChanged(arr[index], scrubbed => arr[index] = scrubbed);
                }
                return arr;
            case JsonValue v when v.TryGetValue(out string? s):
                var scrubbed = ScrubText(s);
                return ReferenceEquals(scrubbed, s) ? node.Parent is null ? node : node.DeepClone() : JsonValue.Create(scrubbed);
            default:
                return node.Parent is null ? node : node.DeepClone();
        }
    }

    // Containers are scrubbed in place and come back as themselves: re-assigning a node to its own slot would throw.
    private void ReplaceChanged(JsonNode? child, Action<JsonNode?> replace)
    {
        var scrubbed = Scrub(child);
        if (!ReferenceEquals(scrubbed, child))
        {
            replace(scrubbed);
        }
    }

    public string ScrubText(string text)
    {
        var result = text;
        foreach (var secret in _secrets.Values)
        {
            if (result == secret)
            {
                return Redacted;
            }
            if (secret.Length >= 8 && result.Contains(secret, StringComparison.Ordinal))
            {
                result = result.Replace(secret, Redacted, StringComparison.Ordinal);
            }
        }
        return result;
    }
}
