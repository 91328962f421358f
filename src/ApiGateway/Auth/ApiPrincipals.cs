using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NoEtl.ApiGateway.Internal;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Auth;

/// <summary>A token holder: a worker pool (<c>role: worker</c>, with its pool) or an operator/CLI (<c>role: operator</c>).</summary>
public sealed record ApiPrincipal(string Name, string Role, string? Pool, byte[] TokenSha256);

/// <summary>
/// The principals allowed on the public API. Tokens are kept only as SHA-256 digests, from a JSON document
/// (<c>NOETL_API_TOKENS_FILE</c>, e.g. a mounted Kubernetes Secret, or inline <c>NOETL_API_TOKENS</c>):
/// <c>{"principals":[{"name","role":"worker|operator","pool"?,"token_sha256":"hex"}]}</c>. The system pool is
/// also known by <c>NOETL_INTERNAL_API_TOKEN</c>, the token NoETL's workers send on every call.
/// </summary>
public sealed class ApiPrincipals
{
    private readonly IReadOnlyList<ApiPrincipal> _principals;
    private readonly Func<byte[], byte[], bool> _equal;

    public ApiPrincipals(IReadOnlyList<ApiPrincipal> principals, Func<byte[], byte[], bool>? equal = null)
    {
        _principals = principals;
        _equal = equal ?? ((a, b) => CryptographicOperations.FixedTimeEquals(a, b));
    }

    /// <summary>The holder of <c>NOETL_INTERNAL_API_TOKEN</c>, on the public API as on the internal one.</summary>
    public const string SystemPoolName = "system-pool";

    public const string SystemPool = "system";

    public int Count => _principals.Count;

    /// <summary>
    /// Constant time by construction: the presented token is hashed to a fixed-length digest and compared with
    /// every principal's digest, without stopping at a match, so neither the position of the first differing
    /// character nor which principal matches changes the work done.
    /// </summary>
    public ApiPrincipal? Authenticate(string token)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        ApiPrincipal? match = null;
        foreach (var principal in _principals)
        {
            if (_equal(digest, principal.TokenSha256))
                match ??= principal;
        }
        return match;
    }

    public static string Digest(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    public static ApiPrincipals FromConfiguration(IConfiguration configuration)
    {
        var principals = new List<ApiPrincipal>();
        var file = configuration["NOETL_API_TOKENS_FILE"];
        var document = !string.IsNullOrWhiteSpace(file) ? File.ReadAllText(file) : configuration["NOETL_API_TOKENS"];
        if (!string.IsNullOrWhiteSpace(document))
            principals.AddRange(Parse(document));
        var internalToken = configuration[InternalTokenHandler.TokenVariable]?.Trim();
        if (!string.IsNullOrEmpty(internalToken))
            principals.Add(new ApiPrincipal(SystemPoolName, Caller.WorkerRole, SystemPool, SHA256.HashData(Encoding.UTF8.GetBytes(internalToken))));
        return new ApiPrincipals(principals);
    }

    public static IEnumerable<ApiPrincipal> Parse(string document)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(document); }
        catch (JsonException e) { throw new InvalidOperationException($"API tokens document is not JSON: {e.Message}"); }
        if (root?["principals"] is not JsonArray entries)
            throw new InvalidOperationException("API tokens document must be {\"principals\": [...]}");
        foreach (var entry in entries)
        {
            var name = entry?["name"]?.GetValue<string>() ?? throw new InvalidOperationException("every principal needs a name");
            var role = entry["role"]?.GetValue<string>() ?? throw new InvalidOperationException($"principal {name} needs a role");
            if (role is not (Caller.WorkerRole or Caller.OperatorRole))
                throw new InvalidOperationException($"principal {name}: role must be worker or operator");
            var pool = entry["pool"]?.GetValue<string>();
            if (role == Caller.WorkerRole && string.IsNullOrWhiteSpace(pool))
                throw new InvalidOperationException($"worker principal {name} needs a pool");
            var hex = entry["token_sha256"]?.GetValue<string>() ?? throw new InvalidOperationException($"principal {name} needs token_sha256");
            byte[] digest;
            try { digest = Convert.FromHexString(hex); }
            catch (FormatException) { throw new InvalidOperationException($"principal {name}: token_sha256 is not hex"); }
            if (digest.Length != 32)
                throw new InvalidOperationException($"principal {name}: token_sha256 must be a SHA-256 digest (64 hex characters)");
            yield return new ApiPrincipal(name, role, role == Caller.WorkerRole ? pool : null, digest);
        }
    }
}
