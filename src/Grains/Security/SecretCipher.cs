using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Grains.Security;

/// <summary>
/// A stored secret cannot be read: tampered, bound to another row, unknown key id, an unknown format, or legacy
/// plain JSON while those are refused. <see cref="Code"/> and <see cref="Remedy"/> tell the operator what to do.
/// </summary>
public sealed class SecretUndecryptableException(string reason, string code = SecretUndecryptableException.UndecryptableCode, string? remedy = null)
    : Exception(reason)
{
    public const string UndecryptableCode = "credential_undecryptable";
    public const string LegacyRefusedCode = "credential_legacy_refused";

    public string Code => code;

    public string Remedy => remedy ?? "Re-create it, or restore the key it was written with.";
}

/// <summary>
/// The plaintext of a stored secret, whether the stored form should be rewritten with the active key, and whether
/// it was legacy plain JSON (rewritten by the read that found it).
/// </summary>
public readonly record struct OpenedSecret(JsonObject Data, bool NeedsReseal, bool IsLegacy = false);

/// <summary>
/// AES-256-GCM envelopes for the TEXT columns <c>data_encrypted</c>: <c>v1:&lt;key id&gt;:&lt;base64(nonce|ciphertext|tag)&gt;</c>.
/// The key id makes rotation possible (any key of the ring decrypts, the active one encrypts); the associated data
/// binds a ciphertext to its row, so copying one row's ciphertext into another fails authentication.
/// Rows written by NoETL's Python server hold plain JSON: they are read as such and flagged for re-encryption —
/// unless <paramref name="acceptLegacy"/> is off (<c>NOETL_LEGACY_CREDENTIALS=false</c>), when only rotation may read them.
/// </summary>
public sealed class SecretCipher(KeyRing keys, bool acceptLegacy = true)
{
    private const string Version = "v1";
    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    public KeyRing Keys => keys;

    public string Seal(JsonObject data, string associatedData)
    {
        var plaintext = Encoding.UTF8.GetBytes(data.ToJsonString());
        var sealedBytes = new byte[NonceBytes + plaintext.Length + TagBytes];
        var nonce = sealedBytes.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(keys.ActiveKey, TagBytes);
        aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(NonceBytes, plaintext.Length), sealedBytes.AsSpan(NonceBytes + plaintext.Length), Encoding.UTF8.GetBytes(associatedData));
        CryptographicOperations.ZeroMemory(plaintext);
        return $"{Version}:{keys.ActiveKeyId}:{Convert.ToBase64String(sealedBytes)}";
    }

    public bool AcceptsLegacy => acceptLegacy;

    /// <summary>
    /// Decrypts a stored value to serve it; throws <see cref="SecretUndecryptableException"/> (never with secret text)
    /// when it cannot, or when it is legacy plain JSON and those are refused.
    /// </summary>
    public OpenedSecret Open(string stored, string associatedData)
    {
        var opened = OpenIncludingLegacy(stored, associatedData);
        if (opened.IsLegacy && !acceptLegacy)
            throw new SecretUndecryptableException(
                "it is legacy plain JSON (written by NoETL's Python server), and NOETL_LEGACY_CREDENTIALS=false refuses those",
                SecretUndecryptableException.LegacyRefusedCode,
                "An operator must encrypt the legacy rows first: call POST /api/internal/credentials/rotate (or set NOETL_LEGACY_CREDENTIALS=true).");
        return opened;
    }

    /// <summary>
    /// Decrypts a stored value whatever the legacy setting: for rotation, which is how legacy rows get encrypted,
    /// and for collecting values to scrub, which serves nothing.
    /// </summary>
    public OpenedSecret OpenIncludingLegacy(string stored, string associatedData)
    {
        if (IsLegacy(stored))
            return new OpenedSecret(ReadLegacy(stored), NeedsReseal: true, IsLegacy: true);

        var parts = stored.Split(':', 3);
        if (parts.Length != 3)
            throw new SecretUndecryptableException("malformed envelope");
        var key = keys.Find(parts[1]) ?? throw new SecretUndecryptableException($"encrypted with key id '{parts[1]}', which is not in the key ring");

        byte[] sealedBytes;
        try { sealedBytes = Convert.FromBase64String(parts[2]); }
        catch (FormatException) { throw new SecretUndecryptableException("malformed envelope (base64)"); }
        if (sealedBytes.Length < NonceBytes + TagBytes)
            throw new SecretUndecryptableException("malformed envelope (too short)");

        var cipherLength = sealedBytes.Length - NonceBytes - TagBytes;
        var plaintext = new byte[cipherLength];
        try
        {
            using var aes = new AesGcm(key, TagBytes);
            aes.Decrypt(sealedBytes.AsSpan(0, NonceBytes), sealedBytes.AsSpan(NonceBytes, cipherLength),
                sealedBytes.AsSpan(NonceBytes + cipherLength), plaintext, Encoding.UTF8.GetBytes(associatedData));
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new SecretUndecryptableException("authentication failed: the ciphertext was altered or belongs to another row");
        }

        try
        {
            return JsonNode.Parse(plaintext) is JsonObject data
                ? new OpenedSecret(data, NeedsReseal: parts[1] != keys.ActiveKeyId)
                : throw new SecretUndecryptableException("decrypted data is not a JSON object");
        }
        catch (JsonException)
        {
            throw new SecretUndecryptableException("decrypted data is not JSON");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private static bool IsLegacy(string stored) => !stored.StartsWith(Version + ":", StringComparison.Ordinal);

    private static JsonObject ReadLegacy(string stored)
    {
        try
        {
            return JsonNode.Parse(stored) as JsonObject ?? throw new SecretUndecryptableException("legacy plain data is not a JSON object");
        }
        catch (JsonException)
        {
            throw new SecretUndecryptableException("neither a v1 envelope nor legacy plain JSON");
        }
    }

    /// <summary>The associated data of a <c>noetl.credential</c> row: its unique name.</summary>
    public static string CredentialBinding(string name) => "noetl.credential:" + name;

    /// <summary>The associated data of a <c>noetl.keychain</c> row: its cache key.</summary>
    public static string KeychainBinding(string cacheKey) => "noetl.keychain:" + cacheKey;
}
