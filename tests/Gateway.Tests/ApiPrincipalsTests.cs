using System.Security.Cryptography;
using System.Text;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Internal;

namespace NoEtl.Gateway.Tests;

public sealed class ApiPrincipalsTests
{
    private static byte[] Sha(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private static List<ApiPrincipal> Principals() =>
    [
        new("operator", "operator", null, Sha("op-token")),
        new("shared-pool", "worker", "shared", Sha("shared-token")),
        new("gpu-pool", "worker", "gpu", Sha("gpu-token")),
    ];

    [Theory]
    [InlineData("op-token", "operator")]
    [InlineData("gpu-token", "gpu-pool")]
    [InlineData("shared-token", "shared-pool")]
    [InlineData("shared-tokeN", null)]
    [InlineData("", null)]
    public void A_token_authenticates_its_principal_only(string token, string? expected) =>
        Assert.Equal(expected, new ApiPrincipals(Principals()).Authenticate(token)?.Name);

    [Theory]
    [InlineData("op-token")]      // matches the first principal
    [InlineData("gpu-token")]     // matches the last
    [InlineData("op-tokeX")]      // shares a long prefix with a real token
    [InlineData("x")]             // shares nothing
    public void Every_principal_is_compared_with_fixed_length_digests_whatever_the_token(string token)
    {
        var comparisons = new List<(int, int)>();
        var principals = new ApiPrincipals(Principals(), (a, b) =>
        {
            comparisons.Add((a.Length, b.Length));
            return CryptographicOperations.FixedTimeEquals(a, b);
        });
        principals.Authenticate(token);
        // No early exit on a match or a mismatch, and always 32-byte digests: the work does not depend on the token.
        Assert.Equal(3, comparisons.Count);
        Assert.All(comparisons, c => Assert.Equal((32, 32), c));
    }

    [Fact]
    public void The_internal_gate_compares_digests_in_constant_time()
    {
        Assert.True(InternalTokenHandler.TokensEqual("secret-token", "secret-token"));
        Assert.False(InternalTokenHandler.TokensEqual("secret-tokeX", "secret-token"));
        Assert.False(InternalTokenHandler.TokensEqual("secret", "secret-token"));
    }

    [Fact]
    public void The_tokens_document_holds_digests_and_is_validated()
    {
        var parsed = ApiPrincipals.Parse($$"""{"principals":[{"name":"ci","role":"operator","token_sha256":"{{ApiPrincipals.Digest("t")}}"}]}""").Single();
        Assert.Equal(("ci", "operator", (string?)null), (parsed.Name, parsed.Role, parsed.Pool));
        Assert.Throws<InvalidOperationException>(() => ApiPrincipals.Parse("""{"principals":[{"name":"w","role":"worker","token_sha256":"00"}]}""").ToList());
        Assert.Throws<InvalidOperationException>(() => ApiPrincipals.Parse("""{"principals":[{"name":"x","role":"admin","token_sha256":"00"}]}""").ToList());
        Assert.Throws<InvalidOperationException>(() => ApiPrincipals.Parse("not json").ToList());
    }
}
