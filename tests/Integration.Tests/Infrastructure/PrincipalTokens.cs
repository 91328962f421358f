using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace NoEtl.Integration.Tests.Infrastructure;

/// <summary>The principals of test systems: an operator (the CLI) and the shared worker pool.</summary>
public static class PrincipalTokens
{
    public const string Operator = "integration-operator-token";
    public const string SharedPool = "integration-shared-pool-token";

    /// <summary>The gateway's NOETL_API_TOKENS document: names, roles, pools and SHA-256 digests only.</summary>
    public static string Document => $$"""
        {"principals": [
          {"name": "operator", "role": "operator", "token_sha256": "{{Digest(Operator)}}"},
          {"name": "shared-pool", "role": "worker", "pool": "shared", "token_sha256": "{{Digest(SharedPool)}}"}
        ]}
        """;

    public static string Digest(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
}

/// <summary>Authorization header values of the test principals, for tests that choose the caller explicitly.</summary>
public static class Bearers
{
    public const string Operator = "Bearer " + PrincipalTokens.Operator;
    public const string SharedPool = "Bearer " + PrincipalTokens.SharedPool;
    public const string SystemPool = "Bearer " + NoEtlSystem.InternalToken;
}

/// <summary>
/// Lets one test client act as both an operator and a shared-pool worker, as the real callers would: worker routes
/// get the pool's token, everything else the operator's. An explicit Authorization header is left alone, and the
/// internal API (its own gate) gets nothing added.
/// </summary>
public sealed class RoleAwareTokens() : DelegatingHandler(new HttpClientHandler())
{
    /// <summary>Set on a request to send it without any credential (tests of the anonymous case).</summary>
    public static readonly HttpRequestOptionsKey<bool> Anonymous = new("noetl.anonymous");

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = request.RequestUri!.AbsolutePath;
        var anonymous = request.Options.TryGetValue(Anonymous, out var flag) && flag;
        if (!anonymous && request.Headers.Authorization is null && !path.StartsWith("/api/internal", StringComparison.Ordinal))
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", IsWorkerRoute(request.Method, request.RequestUri) ? PrincipalTokens.SharedPool : PrincipalTokens.Operator);
        return base.SendAsync(request, cancellationToken);
    }

    private static bool IsWorkerRoute(HttpMethod method, Uri uri)
    {
        var path = uri.AbsolutePath;
        return path.StartsWith("/api/events", StringComparison.Ordinal)
            || path.StartsWith("/api/commands/", StringComparison.Ordinal) && path.EndsWith("/claim", StringComparison.Ordinal)
            || path.StartsWith("/api/worker/pool/", StringComparison.Ordinal)
            || path.StartsWith("/api/result/", StringComparison.Ordinal) && method == HttpMethod.Put
            || path.StartsWith("/api/keychain", StringComparison.Ordinal) && method != HttpMethod.Delete
            // Workers read secrets for an execution; a read without one is the operator's (the GUI's Secrets page).
            || path.StartsWith("/api/credentials/", StringComparison.Ordinal) && uri.Query.Contains("include_data=true", StringComparison.OrdinalIgnoreCase)
                && uri.Query.Contains("execution_id=", StringComparison.Ordinal);
    }
}
