using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Tests.Security;

/// <summary>The v1 envelope: round trip, binding to the row, tampering, legacy plain JSON, rotation between key rings.</summary>
public sealed class SecretCipherTests
{
    private static readonly string OldKey = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly string NewKey = Convert.ToBase64String(Enumerable.Range(101, 32).Select(i => (byte)i).ToArray());
    private static readonly string Binding = SecretCipher.CredentialBinding("pg_prod");

    private static SecretCipher Cipher(string spec) => new(KeyRing.Parse(spec));

    private static JsonObject Data() => new() { ["user"] = "admin", ["password"] = "correct horse battery staple" };

    [Fact]
    public void Round_trip_returns_the_data_under_the_active_key()
    {
        var cipher = Cipher($"new:{NewKey},old:{OldKey}");
        var stored = cipher.Seal(Data(), Binding);
        var opened = cipher.Open(stored, Binding);
        Assert.True(JsonNode.DeepEquals(Data(), opened.Data));
        Assert.False(opened.NeedsReseal);
        Assert.StartsWith("v1:new:", stored);
    }

    [Fact]
    public void The_envelope_holds_no_plaintext_and_every_seal_uses_a_fresh_nonce()
    {
        var cipher = Cipher(OldKey);
        var first = cipher.Seal(Data(), Binding);
        var second = cipher.Seal(Data(), Binding);
        Assert.NotEqual(first, second);
        var parts = first.Split(':');
        Assert.Equal(3, parts.Length);
        Assert.Equal("v1", parts[0]);
        Assert.Equal(cipher.Keys.ActiveKeyId, parts[1]);
        var raw = Encoding.UTF8.GetString(Convert.FromBase64String(parts[2]));
        Assert.DoesNotContain("correct horse", raw);
        Assert.DoesNotContain("correct horse", first);
        Assert.DoesNotContain("admin", first);
    }

    [Fact]
    public void A_ciphertext_is_bound_to_its_row()
    {
        var cipher = Cipher(OldKey);
        var stored = cipher.Seal(Data(), Binding);
        var error = Assert.Throws<SecretUndecryptableException>(() => cipher.Open(stored, SecretCipher.CredentialBinding("other")));
        Assert.Contains("authentication failed", error.Message);
        Assert.Throws<SecretUndecryptableException>(() => cipher.Open(stored, SecretCipher.KeychainBinding("pg_prod")));
    }

    [Theory]
    [InlineData(0)]   // nonce
    [InlineData(20)]  // ciphertext
    [InlineData(-1)]  // tag
    public void Any_altered_byte_is_detected(int position)
    {
        var cipher = Cipher(OldKey);
        var parts = cipher.Seal(Data(), Binding).Split(':');
        var bytes = Convert.FromBase64String(parts[2]);
        bytes[position < 0 ? bytes.Length + position : position] ^= 0x01;
        var tampered = $"{parts[0]}:{parts[1]}:{Convert.ToBase64String(bytes)}";
        var error = Assert.Throws<SecretUndecryptableException>(() => cipher.Open(tampered, Binding));
        Assert.DoesNotContain("admin", error.Message);
    }

    public static TheoryData<string, string> Malformed => new()
    {
        { "v1:nokey", "malformed envelope" },
        { "v1:unknown:AAAA", "not in the key ring" },
        { "v1:{KID}:not-base64!", "base64" },
        { "v1:{KID}:AAAA", "too short" },
        { "gibberish", "neither a v1 envelope nor legacy plain JSON" },
        { "[1,2]", "legacy plain data is not a JSON object" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_values_are_clear_errors(string stored, string reason)
    {
        var cipher = Cipher(OldKey);
        var error = Assert.Throws<SecretUndecryptableException>(() => cipher.Open(stored.Replace("{KID}", cipher.Keys.ActiveKeyId), Binding));
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void Legacy_plain_json_is_read_and_flagged_for_re_encryption()
    {
        var opened = Cipher(OldKey).Open("""{"user":"admin","password":"correct horse battery staple"}""", Binding);
        Assert.True(JsonNode.DeepEquals(Data(), opened.Data));
        Assert.True(opened.NeedsReseal);
        Assert.True(opened.IsLegacy);
    }

    [Fact]
    public void Legacy_plain_json_is_refused_when_legacy_credentials_are_off_but_rotation_still_reads_it()
    {
        const string legacy = """{"user":"admin","password":"correct horse battery staple"}""";
        var cipher = new SecretCipher(KeyRing.Parse(OldKey), acceptLegacy: false);
        var error = Assert.Throws<SecretUndecryptableException>(() => cipher.Open(legacy, Binding));
        Assert.Equal(SecretUndecryptableException.LegacyRefusedCode, error.Code);
        Assert.Contains("/api/internal/credentials/rotate", error.Remedy);
        Assert.DoesNotContain("correct horse", error.Message + error.Remedy);

        var forRotation = cipher.OpenIncludingLegacy(legacy, Binding);
        Assert.True(forRotation.IsLegacy && forRotation.NeedsReseal);
        Assert.True(JsonNode.DeepEquals(Data(), forRotation.Data));
        // Envelopes are served as before.
        Assert.False(cipher.Open(cipher.Seal(Data(), Binding), Binding).IsLegacy);
    }

    [Fact]
    public void Rotation_moves_rows_from_the_old_key_to_the_new_one()
    {
        var before = Cipher(OldKey);
        var stored = before.Seal(Data(), Binding);

        // The operator puts the new key first and keeps the old one behind it.
        var during = Cipher($"new:{NewKey},{before.Keys.ActiveKeyId}:{OldKey}");
        var opened = during.Open(stored, Binding);
        Assert.True(opened.NeedsReseal);
        var rotated = during.Seal(opened.Data, Binding);

        // Then the old key is dropped: rotated rows still open, unrotated ones name the missing key.
        var after = Cipher($"new:{NewKey}");
        Assert.True(JsonNode.DeepEquals(Data(), after.Open(rotated, Binding).Data));
        Assert.False(after.Open(rotated, Binding).NeedsReseal);
        Assert.Contains("not in the key ring", Assert.Throws<SecretUndecryptableException>(() => after.Open(stored, Binding)).Message);
    }

    [Fact]
    public void The_same_kid_with_another_key_fails_authentication_not_silently()
    {
        var stored = Cipher($"k:{OldKey}").Seal(Data(), Binding);
        Assert.Throws<SecretUndecryptableException>(() => Cipher($"k:{NewKey}").Open(stored, Binding));
    }

    [Fact]
    public void Decrypted_bytes_are_real_aes_gcm()
    {
        // Decrypt independently of SecretCipher: 12-byte nonce, ciphertext, 16-byte tag, associated data = binding.
        var cipher = Cipher($"a:{OldKey}");
        var bytes = Convert.FromBase64String(cipher.Seal(Data(), Binding).Split(':')[2]);
        var plaintext = new byte[bytes.Length - 28];
        using var aes = new AesGcm(Convert.FromBase64String(OldKey), 16);
        aes.Decrypt(bytes.AsSpan(0, 12), bytes.AsSpan(12, plaintext.Length), bytes.AsSpan(12 + plaintext.Length), plaintext, Encoding.UTF8.GetBytes(Binding));
        Assert.True(JsonNode.DeepEquals(Data(), JsonNode.Parse(plaintext)));
    }
}
