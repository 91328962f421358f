using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace NoEtl.Grains.Security;

/// <summary>The silo cannot encrypt credentials: no usable key was configured. The message never contains key material.</summary>
public sealed class KeyRingException(string message) : Exception(message);

/// <summary>
/// The AES-256 keys that protect <c>data_encrypted</c> columns. The first key is the active one (every write uses it);
/// the others only decrypt, so keys can be rotated without downtime: put the new key first, keep the old one behind
/// it, call the rotation route, then drop the old key.
/// </summary>
public sealed partial class KeyRing
{
    public const string KeyVariable = "NOETL_ENCRYPTION_KEY";
    public const string KeyFileVariable = "NOETL_ENCRYPTION_KEY_FILE";
    public const string DevModeVariable = "NOETL_DEV_MODE";
    public const int KeyBytes = 32;

    /// <summary>
    /// The id of the well-known development key. It is public by construction (derived from a constant), so
    /// rows written with it are readable by anyone: it exists so that several dev silos, and restarts, agree on a key.
    /// </summary>
    public const string DevKeyId = "dev";

    private readonly Dictionary<string, byte[]> _keys;

    private KeyRing(string activeKeyId, Dictionary<string, byte[]> keys)
    {
        ActiveKeyId = activeKeyId;
        _keys = keys;
    }

    public string ActiveKeyId { get; }

    public IReadOnlyCollection<string> KeyIds => _keys.Keys;

    internal byte[] ActiveKey => _keys[ActiveKeyId];

    internal byte[]? Find(string keyId) => _keys.GetValueOrDefault(keyId);

    /// <summary>
    /// Parses <c>base64</c> (one key; its id is a fingerprint, so a replaced key is reported as "unknown key id"
    /// instead of failing authentication) or <c>kid1:base64,kid2:base64</c> (a key ring, the first is active).
    /// </summary>
    public static KeyRing Parse(string spec)
    {
        var entries = spec.Split([',', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (entries.Length == 0)
            throw new KeyRingException("the encryption key is empty");

        var keys = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        string? active = null;
        foreach (var entry in entries)
        {
            var colon = entry.IndexOf(':');
            if (colon < 0 && entries.Length > 1)
                throw new KeyRingException("a key ring must name every key: kid1:base64,kid2:base64");
            var material = Decode(colon < 0 ? entry : entry[(colon + 1)..], colon < 0 ? "the key" : $"key '{entry[..colon]}'");
            var keyId = colon < 0 ? Fingerprint(material) : entry[..colon];
            if (!KeyIdShape().IsMatch(keyId))
                throw new KeyRingException($"key id '{keyId}' must be 1-32 characters of [A-Za-z0-9_-]");
            if (!keys.TryAdd(keyId, material))
                throw new KeyRingException($"key id '{keyId}' appears twice");
            active ??= keyId;
        }
        return new KeyRing(active!, keys);
    }

    /// <summary>
    /// The silo's key ring from <c>NOETL_ENCRYPTION_KEY</c> or the file named by <c>NOETL_ENCRYPTION_KEY_FILE</c>
    /// (a mounted secret). Without either, start-up fails unless <c>NOETL_DEV_MODE=true</c>, which uses the
    /// well-known dev key and says so loudly. With a real key and dev mode, the dev key stays readable (not active)
    /// so that rows written during development can be rotated to the real key.
    /// </summary>
    public static KeyRing FromConfiguration(IConfiguration configuration, ILogger logger)
    {
        var inline = configuration[KeyVariable];
        var file = configuration[KeyFileVariable];
        var devMode = string.Equals(configuration[DevModeVariable], "true", StringComparison.OrdinalIgnoreCase);
        if (!string.IsNullOrWhiteSpace(inline) && !string.IsNullOrWhiteSpace(file))
            throw new KeyRingException($"set either {KeyVariable} or {KeyFileVariable}, not both");

        string? spec = inline;
        if (!string.IsNullOrWhiteSpace(file))
        {
            try { spec = File.ReadAllText(file); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new KeyRingException($"{KeyFileVariable} names a file that cannot be read: {e.GetType().Name}");
            }
        }

        if (string.IsNullOrWhiteSpace(spec))
        {
            if (!devMode)
                throw new KeyRingException(
                    $"no credential encryption key: set {KeyVariable} (base64 of 32 bytes, or kid:base64,...) or {KeyFileVariable}; " +
                    $"{DevModeVariable}=true uses an insecure well-known development key");
            LogDevKey(logger);
            return new KeyRing(DevKeyId, new Dictionary<string, byte[]> { [DevKeyId] = DevKey() });
        }

        var ring = Parse(spec);
        if (devMode && !ring._keys.ContainsKey(DevKeyId))
            ring._keys[DevKeyId] = DevKey();
        LogKeyRing(logger, ring.ActiveKeyId, ring._keys.Count);
        return ring;
    }

    private static byte[] Decode(string base64, string what)
    {
        byte[] material;
        try { material = Convert.FromBase64String(base64); }
        catch (FormatException) { throw new KeyRingException($"{what} is not valid base64"); }
        if (material.Length != KeyBytes)
            throw new KeyRingException($"{what} must decode to {KeyBytes} bytes (AES-256), not {material.Length}");
        return material;
    }

    // A truncated hash of a random 256-bit key reveals nothing usable about it, and lets a silo name the key a row needs.
    private static string Fingerprint(byte[] key) =>
        "k" + Convert.ToHexStringLower(SHA256.HashData([.. "noetl-key-id:"u8, .. key]))[..8];

    private static byte[] DevKey() => SHA256.HashData(Encoding.UTF8.GetBytes("noetl insecure development key"));

    [GeneratedRegex("^[A-Za-z0-9_-]{1,32}$")]
    private static partial Regex KeyIdShape();

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "NOETL_DEV_MODE=true and no NOETL_ENCRYPTION_KEY: credentials are encrypted with the INSECURE well-known development key 'dev'. Never use this in production.")]
    private static partial void LogDevKey(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Credential encryption: active key id {ActiveKeyId}, {Count} key(s) in the ring")]
    private static partial void LogKeyRing(ILogger logger, string activeKeyId, int count);
}
