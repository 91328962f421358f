using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace NoEtl.Grains.Security;

/// <summary>
/// NoETL's response-boundary scrubbing (noetl-api.md §5, <c>redact_keychain_values</c>) and the producer-side
/// scrub applied to stored results (<c>producer_scrub_payload</c>). Pure: returns a redacted copy, never mutates.
/// </summary>
public static partial class Redactor
{
    public const string Placeholder = "[REDACTED]";
    public const int MaxDepth = 20;

    /// <summary>Key fragments (normalized: lowercase, '-'→'_') that make a key sensitive when contained in it.</summary>
    public static readonly IReadOnlyList<string> SensitiveKeys =
    [
        "password", "passwd", "pwd", "secret", "token", "bearer", "api_key", "apikey", "access_token", "refresh_token",
        "auth_token", "authorization", "auth", "credential", "credentials", "private_key", "secret_key", "client_secret",
        "connection_string", "db_password", "aws_secret", "gcp_key", "azure_key", "ssh_key", "passphrase", "pem", "cert",
        "certificate", "oauth_token", "id_token", "encryption_key", "decrypt_key", "master_key", "snowflake_password",
        "snowflake_token", "private_key_passphrase",
    ];

    /// <summary>Extra key fragments applied only at the response boundary.</summary>
    public static readonly IReadOnlyList<string> ResponseSensitiveKeys =
        ["keychain", "api_secret", "auth0_token", "auth0_id_token", "auth0_refresh_token", "idtoken", "oauth", "jwt"];

    /// <summary>HTTP header names that carry credentials; always redacted in stored results.</summary>
    public static readonly IReadOnlyList<string> HeaderCredentialKeys =
        ["authorization", "proxy_authorization", "www_authenticate", "x_api_key", "x_auth_token", "x_access_token", "cookie", "set_cookie"];

    // Template or code text mentions secrets by name ("{{ keychain.pg.password }}", "def token():") without holding one.
    private static readonly string[] CodeMarkers = ["{{", "}}", "={", "def ", "import ", "return ", "class "];

    private const string RefKey = "$noetl_ref";

    /// <summary>
    /// A redacted copy of <paramref name="value"/>. Keys listed in <paramref name="extraKeys"/> are always redacted;
    /// sensitive-looking keys redact objects and arrays wholesale and strings only when the string looks secret;
    /// any string equal to (or, for secrets of 8+ characters, containing) one of <paramref name="secretValues"/> is redacted.
    /// Nodes nested deeper than <see cref="MaxDepth"/> are replaced by the placeholder (fail closed).
    /// </summary>
    public static JsonNode? Redact(JsonNode? value, IEnumerable<string>? extraKeys = null, IEnumerable<string>? secretValues = null)
    {
        var keys = new HashSet<string>((extraKeys ?? []).Select(NormalizeKey), StringComparer.Ordinal);
        var secrets = (secretValues ?? []).Where(s => !string.IsNullOrEmpty(s)).Distinct(StringComparer.Ordinal).ToArray();
        return Walk(value, keys, secrets, 0);
    }

    /// <summary>
    /// The scrub applied before a result is stored: keychain namespaces are dropped, credential headers and the
    /// keychain manifest's entry names and fields are redacted by key, and every string held under
    /// <c>context.keychain</c> is redacted wherever it appears.
    /// </summary>
    public static JsonNode? ProducerScrub(JsonNode? value, JsonObject? keychainContext)
    {
        var keys = new List<string>(HeaderCredentialKeys);
        keys.AddRange(ManifestKeys(keychainContext?["_keychain_manifest"]));
        var secrets = new List<string>();
        CollectStrings(keychainContext?["keychain"], secrets, 0);
        return Redact(StripKeychainNamespaces(value, 0), keys, secrets);
    }

    /// <summary>
    /// Keys too, moved rather than copied: an object key holding one of <paramref name="secrets"/> becomes the placeholder
    /// (<c>[REDACTED]</c>, <c>[REDACTED]#2</c>, …). Mutates and returns <paramref name="node"/>'s tree. Children are detached
    /// with one <c>Clear</c> per object: removing them one by one shifts the property list each time, and an object with
    /// 80,000 keys took 84 s to scrub that way.
    /// </summary>
    public static JsonNode? ScrubSecretKeys(JsonNode? node, IReadOnlyCollection<string> secrets) => ScrubSecretKeys(node, secrets, 0);

    private static JsonNode? ScrubSecretKeys(JsonNode? node, IReadOnlyCollection<string> secrets, int depth)
    {
        if (secrets.Count == 0 || depth > MaxDepth)
            return node;
        switch (node)
        {
            case JsonObject obj:
                var entries = obj.ToList();
                obj.Clear();
                var copy = new JsonObject();
                foreach (var (key, child) in entries)
                {
                    var safeKey = ContainsSecretValue(key, secrets) ? UniqueKey(copy, Placeholder) : key;
                    copy[safeKey] = ScrubSecretKeys(child, secrets, depth + 1);
                }
                return copy;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    var item = array[i];
                    array[i] = null;
                    array[i] = ScrubSecretKeys(item, secrets, depth + 1);
                }
                return array;
            default:
                return node;
        }
    }

    private static string UniqueKey(JsonObject obj, string key)
    {
        var candidate = key;
        for (var n = 2; obj.ContainsKey(candidate); n++)
            candidate = $"{key}#{n}";
        return candidate;
    }

    public static string NormalizeKey(string key) => key.ToLowerInvariant().Replace('-', '_');

    public static bool IsSensitiveKey(string normalizedKey) =>
        SensitiveKeys.Any(normalizedKey.Contains) || ResponseSensitiveKeys.Any(normalizedKey.Contains);

    /// <summary>Whether a string looks like a secret by itself (caller secrets aside).</summary>
    public static bool LooksSecret(string text)
    {
        if (CodeMarkers.Any(text.Contains))
            return false;
        try
        {
            return UrlCredentials().IsMatch(text) || SecretPatterns().IsMatch(text) || HasBasicCredentials(text);
        }
        catch (RegexMatchTimeoutException)
        {
            // The patterns scan in linear time, so this is a backstop only; a string that cannot be checked is not shown.
            return true;
        }
    }

    private static JsonNode? Walk(JsonNode? node, HashSet<string> keys, string[] secrets, int depth)
    {
        if (node is null)
            return null;
        if (depth > MaxDepth)
            return Placeholder;
        switch (node)
        {
            case JsonObject obj when IsReference(obj):
                return obj.DeepClone();
            case JsonObject obj:
                var copy = new JsonObject();
                foreach (var (key, child) in obj)
                    copy[key] = Field(NormalizeKey(key), child, keys, secrets, depth + 1);
                return copy;
            case JsonArray array:
                return new JsonArray([.. array.Select(item => Walk(item, keys, secrets, depth + 1))]);
            default:
                var value = (JsonValue)node;
                return value.GetValueKind() == JsonValueKind.String && StringIsSecret(value.GetValue<string>(), secrets)
                    ? Placeholder
                    : value.DeepClone();
        }
    }

    private static JsonNode? Field(string key, JsonNode? child, HashSet<string> keys, string[] secrets, int depth)
    {
        if (child is JsonObject reference && IsReference(reference))
            return reference.DeepClone();
        if (keys.Contains(key))
            return Placeholder;
        if (child is JsonObject or JsonArray && IsSensitiveKey(key))
            return Placeholder;
        return Walk(child, keys, secrets, depth);
    }

    private static bool StringIsSecret(string text, string[] secrets) => ContainsSecretValue(text, secrets) || LooksSecret(text);

    /// <summary>Equal to one of <paramref name="secrets"/>, or containing one of 8+ characters.</summary>
    public static bool ContainsSecretValue(string text, IEnumerable<string> secrets)
    {
        foreach (var secret in secrets)
            if (text == secret || secret.Length >= 8 && text.Contains(secret, StringComparison.Ordinal))
                return true;
        return false;
    }

    // {"$noetl_ref": {"kind": "keychain", ...}}: resolved late by the worker, it names a secret without holding one.
    private static bool IsReference(JsonObject obj) => obj.Count == 1 && obj[RefKey] is JsonObject;

    /// <summary>
    /// <c>Basic &lt;base64&gt;</c> where the whole token (4+ base64 characters, up to two '=') decodes to <c>user:password</c>.
    /// A single forward scan: each character is looked at a bounded number of times, however many "Basic"s the text holds.
    /// </summary>
    private static bool HasBasicCredentials(string text)
    {
        const string Scheme = "Basic";
        for (var at = text.IndexOf(Scheme, StringComparison.Ordinal); at >= 0; at = text.IndexOf(Scheme, at + 1, StringComparison.Ordinal))
        {
            if (at > 0 && IsWordChar(text[at - 1]))
                continue;
            var start = at + Scheme.Length;
            var i = start;
            while (i < text.Length && char.IsWhiteSpace(text[i]))
                i++;
            if (i == start)
                continue;
            var tokenStart = i;
            while (i < text.Length && IsBase64Char(text[i]))
                i++;
            var digits = i - tokenStart;
            while (i < text.Length && text[i] == '=' && i - tokenStart - digits < 2)
                i++;
            if (digits < 4 || (i < text.Length && (IsBase64Char(text[i]) || text[i] == '=')))
                continue;
            var buffer = new byte[i - tokenStart];
            if (Convert.TryFromBase64Chars(text.AsSpan(tokenStart, i - tokenStart), buffer, out var written)
                && Encoding.UTF8.GetString(buffer, 0, written).Contains(':'))
                return true;
        }
        return false;
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';

    private static bool IsBase64Char(char c) => char.IsAsciiLetterOrDigit(c) || c is '+' or '/';

    private static JsonNode? StripKeychainNamespaces(JsonNode? node, int depth)
    {
        if (depth > MaxDepth)
            return node?.DeepClone();
        switch (node)
        {
            case JsonObject obj when IsReference(obj):
                return obj.DeepClone();
            case JsonObject obj:
                var copy = new JsonObject();
                foreach (var (key, child) in obj)
                    if (NormalizeKey(key) is not ("keychain" or "_keychain_manifest"))
                        copy[key] = StripKeychainNamespaces(child, depth + 1);
                return copy;
            case JsonArray array:
                return new JsonArray([.. array.Select(item => StripKeychainNamespaces(item, depth + 1))]);
            default:
                return node?.DeepClone();
        }
    }

    /// <summary>Entry names and field names of a keychain manifest: a list of names or of <c>{name, fields}</c>, or a map name → fields.</summary>
    private static IEnumerable<string> ManifestKeys(JsonNode? manifest)
    {
        switch (manifest)
        {
            case JsonArray entries:
                foreach (var entry in entries)
                {
                    if (entry is JsonValue name && name.GetValueKind() == JsonValueKind.String)
                        yield return name.GetValue<string>();
                    else if (entry is JsonObject described)
                    {
                        if (described["name"] is JsonValue entryName && entryName.GetValueKind() == JsonValueKind.String)
                            yield return entryName.GetValue<string>();
                        foreach (var field in FieldNames(described["fields"]))
                            yield return field;
                    }
                }
                break;
            case JsonObject byName:
                foreach (var (name, fields) in byName)
                {
                    yield return name;
                    foreach (var field in FieldNames(fields is JsonObject { } o && o["fields"] is { } inner ? inner : fields))
                        yield return field;
                }
                break;
        }
    }

    private static IEnumerable<string> FieldNames(JsonNode? fields) => fields switch
    {
        JsonArray list => list.OfType<JsonValue>().Where(v => v.GetValueKind() == JsonValueKind.String).Select(v => v.GetValue<string>()),
        JsonObject map => map.Select(pair => pair.Key),
        _ => [],
    };

    private static void CollectStrings(JsonNode? node, List<string> into, int depth)
    {
        if (depth > MaxDepth)
            return;
        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, child) in obj)
                    CollectStrings(child, into, depth + 1);
                break;
            case JsonArray array:
                foreach (var item in array)
                    CollectStrings(item, into, depth + 1);
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                into.Add(value.GetValue<string>());
                break;
        }
    }

    // The scans run on whole stored results and request bodies. NonBacktracking keeps each one linear in the text
    // (a backtracking engine retries every start position, quadratic on a long run of letters); the timeout is a backstop.
    private const RegexOptions Linear = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant;
    private const int ScanTimeoutMilliseconds = 1000;

    // scheme://user:password@host — what redact_url_credentials rewrites.
    [GeneratedRegex(@"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]+:[^\s/@]+@", Linear, ScanTimeoutMilliseconds)]
    private static partial Regex UrlCredentials();

    // NoETL's SECRET_VALUE_PATTERNS. No generic "long alphanumeric" rule: snowflake ids and hashes must survive.
    [GeneratedRegex(
        @"(?i:\bbearer)\s+\S+" +
        @"|\beyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*" +
        @"|\bsk-(?:ant-)?[A-Za-z0-9_\-]{20,}" +
        @"|\bAIza[0-9A-Za-z_\-]{35}" +
        @"|\bya29\.[0-9A-Za-z_\-]+" +
        @"|\bgh[pousr]_[A-Za-z0-9]{30,}" +
        @"|\bgithub_pat_[A-Za-z0-9_]{22,}" +
        @"|\bxox[baprs]-[A-Za-z0-9\-]{10,}" +
        @"|-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----" +
        @"|[?&](?i:key|api_key|token|access_token|id_token|refresh_token|client_secret|signature)=[^&\s#]+",
        Linear, ScanTimeoutMilliseconds)]
    private static partial Regex SecretPatterns();
}
