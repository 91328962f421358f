using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace NoEtl.Grains.Security;

/// <summary>
/// Per-claim lease tokens: an HMAC of (execution, command, lease epoch) under a key derived from the credential
/// key ring. Unguessable without the key, yet nothing is stored (nothing in the event log to read back), a token
/// survives re-activation on another silo, and a new claim (a new epoch) makes the previous holder's token useless.
/// Tokens minted with a key still in the ring stay valid across a rotation.
/// </summary>
public sealed class LeaseTokens
{
    private const string Prefix = "lt1.";
    private static readonly byte[] Purpose = "noetl.lease-token.v1"u8.ToArray();

    private readonly byte[][] _keys;

    public LeaseTokens(KeyRing ring) =>
        _keys = [.. new[] { ring.ActiveKeyId }.Concat(ring.KeyIds.Where(id => id != ring.ActiveKeyId))
            .Select(id => HMACSHA256.HashData(ring.Find(id)!, Purpose))];

    public string Mint(long executionId, long commandId, int epoch) => Token(_keys[0], executionId, commandId, epoch);

    public bool Verify(string presented, long executionId, long commandId, int epoch)
    {
        var given = Encoding.UTF8.GetBytes(presented);
        var match = false;
        foreach (var key in _keys)
            match |= CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Token(key, executionId, commandId, epoch)), given);
        return match;
    }

    private static string Token(byte[] key, long executionId, long commandId, int epoch) =>
        Prefix + Base64Url.EncodeToString(HMACSHA256.HashData(key,
            Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{executionId}:{commandId}:{epoch}"))));
}
