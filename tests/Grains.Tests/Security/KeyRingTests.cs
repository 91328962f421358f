using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Tests.Security;

/// <summary>How the silo gets its keys, and that it refuses to start without a usable one.</summary>
public sealed class KeyRingTests
{
    private static readonly string Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly string Other = Convert.ToBase64String(Enumerable.Range(50, 32).Select(i => (byte)i).ToArray());

    private static KeyRing FromSettings(params (string Key, string Value)[] settings) => KeyRing.FromConfiguration(
        new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build(),
        NullLogger.Instance);

    [Fact]
    public void A_single_key_gets_a_stable_fingerprint_id()
    {
        var ring = KeyRing.Parse(Key);
        Assert.Matches("^k[0-9a-f]{8}$", ring.ActiveKeyId);
        Assert.Equal(ring.ActiveKeyId, KeyRing.Parse($"  {Key}\n").ActiveKeyId);
        Assert.NotEqual(ring.ActiveKeyId, KeyRing.Parse(Other).ActiveKeyId);
    }

    [Fact]
    public void In_a_key_ring_the_first_key_is_active()
    {
        var ring = KeyRing.Parse($"b:{Other}, a:{Key}");
        Assert.Equal("b", ring.ActiveKeyId);
        Assert.Equal(["b", "a"], ring.KeyIds);
    }

    public static TheoryData<string, string> Invalid => new()
    {
        { "", "empty" },
        { "not base64!", "not valid base64" },
        { Convert.ToBase64String(new byte[16]), "must decode to 32 bytes" },
        { $"a:{Convert.ToBase64String(new byte[16])}", "key 'a' must decode to 32 bytes" },
        { $"a:{Convert.ToBase64String(new byte[32])},a:{Convert.ToBase64String(new byte[32])}", "appears twice" },
        { $"bad id:{Convert.ToBase64String(new byte[32])}", "must be 1-32 characters" },
        { $"{Convert.ToBase64String(new byte[32])},{Convert.ToBase64String(new byte[32])}", "must name every key" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_key_material_is_refused_without_echoing_it(string spec, string reason)
    {
        var error = Assert.Throws<KeyRingException>(() => KeyRing.Parse(spec));
        Assert.Contains(reason, error.Message);
        if (spec.Length > 0)
            Assert.DoesNotContain(spec, error.Message);
    }

    [Fact]
    public void Without_a_key_the_silo_refuses_to_start()
    {
        var error = Assert.Throws<KeyRingException>(() => FromSettings());
        Assert.Contains(KeyRing.KeyVariable, error.Message);
        Assert.Throws<KeyRingException>(() => FromSettings((KeyRing.DevModeVariable, "false")));
    }

    [Fact]
    public void Dev_mode_uses_the_well_known_dev_key()
    {
        var ring = FromSettings((KeyRing.DevModeVariable, "true"));
        Assert.Equal(KeyRing.DevKeyId, ring.ActiveKeyId);
        Assert.Equal(KeyRing.DevKeyId, FromSettings((KeyRing.DevModeVariable, "TRUE")).ActiveKeyId);
    }

    [Fact]
    public void Dev_mode_with_a_real_key_keeps_the_dev_key_readable_but_not_active()
    {
        var ring = FromSettings((KeyRing.KeyVariable, $"prod:{Key}"), (KeyRing.DevModeVariable, "true"));
        Assert.Equal("prod", ring.ActiveKeyId);
        Assert.Contains(KeyRing.DevKeyId, ring.KeyIds);
        Assert.DoesNotContain(KeyRing.DevKeyId, FromSettings((KeyRing.KeyVariable, $"prod:{Key}")).KeyIds);
    }

    [Fact]
    public void The_key_can_come_from_a_mounted_file()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, $"f:{Key}\n");
            Assert.Equal("f", FromSettings((KeyRing.KeyFileVariable, file)).ActiveKeyId);
            Assert.Contains("not both", Assert.Throws<KeyRingException>(() =>
                FromSettings((KeyRing.KeyFileVariable, file), (KeyRing.KeyVariable, Key))).Message);
        }
        finally
        {
            File.Delete(file);
        }
        Assert.Contains("cannot be read", Assert.Throws<KeyRingException>(() => FromSettings((KeyRing.KeyFileVariable, file))).Message);
    }
}
