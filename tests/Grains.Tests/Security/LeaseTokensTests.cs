using NoEtl.Grains.Security;

namespace NoEtl.Grains.Tests.Security;

public sealed class LeaseTokensTests
{
    private static readonly string Key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly string Other = Convert.ToBase64String(Enumerable.Range(50, 32).Select(i => (byte)i).ToArray());

    [Fact]
    public void A_token_belongs_to_one_execution_command_and_claim_epoch()
    {
        var leases = new LeaseTokens(KeyRing.Parse(Key));
        var token = leases.Mint(7, 11, 2);
        Assert.StartsWith("lt1.", token);
        Assert.True(leases.Verify(token, 7, 11, 2));
        Assert.Equal(token, leases.Mint(7, 11, 2)); // another silo (same key) mints the same: nothing to store
        Assert.False(leases.Verify(token, 7, 11, 3)); // a later claim supersedes it
        Assert.False(leases.Verify(token, 7, 12, 2));
        Assert.False(leases.Verify(token, 8, 11, 2));
        Assert.False(leases.Verify(token[..^1] + (token[^1] == 'A' ? 'B' : 'A'), 7, 11, 2));
        Assert.False(leases.Verify("", 7, 11, 2));
    }

    [Fact]
    public void Nobody_without_the_key_can_mint_one_and_rotation_keeps_outstanding_tokens_valid()
    {
        var before = new LeaseTokens(KeyRing.Parse($"old:{Key}"));
        var stranger = new LeaseTokens(KeyRing.Parse(Other));
        var rotated = new LeaseTokens(KeyRing.Parse($"new:{Other},old:{Key}"));
        var token = before.Mint(1, 2, 1);
        Assert.False(stranger.Verify(token, 1, 2, 1));
        Assert.True(rotated.Verify(token, 1, 2, 1));
        Assert.NotEqual(token, rotated.Mint(1, 2, 1));
    }
}
