using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Grains.Security;

/// <summary>A stored secret cannot be read: tampered, bound to another row, unknown key id, or an unknown format.</summary>
public sealed class SecretUndecryptableException(string reason) : Exception(reason);

/// <summary>The plaintext of a stored secret, and whether the stored form should be rewritten with the active key.</summary>
public readonly record struct OpenedSecret(JsonObject Data, bool NeedsReseal);

/// <summary>
/// AES-256-GCM envelopes for the TEXT columns <c>data_encrypted</c>: <c>v1:&lt;key id&gt;:&lt;base64(nonce|ciphertext|tag)&gt;</c>.
/// The key id makes rotation possible (any key of the ring decrypts, the active one encrypts); the associated data
/// binds a ciphertext to its row, so copying one row's ciphertext into another fails authentication.
/// Rows written by NoETL's Python server hold plain JSON: they are read as such and flagged for re-encryption.
/// </summary>
public sealed class SecretCipher(KeyRing keys)
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

    /// <summary>Decrypts a stored value; throws <see cref="SecretUndecryptableException"/> (never with secret text) when it cannot.</summary>
    public OpenedSecret Open(string stored, string associatedData)
    {
        if (!stored.StartsWith(Version + ":", StringComparison.Ordinal))
            return new OpenedSecret(ReadLegacy(stored), NeedsReseal: true);

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
