using NoEtl.ApiGateway.Auth;
using NoEtl.Grains;
using System.Security.Cryptography;
using System.Text;

namespace NoEtl.ApiGateway.Internal;

/// <summary>
/// The gate of <c>/api/internal/*</c> exactly as NoETL defines it (noetl-api.md §2): the expected token is read
/// per request; unset → 503 (misconfigured server); missing, malformed or wrong bearer → 403. Never 401.
/// </summary>
public sealed class InternalTokenGate(IConfiguration configuration) : IEndpointFilter
{
    public const string TokenVariable = "NOETL_INTERNAL_API_TOKEN";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (Refusal(http) is { } refusal)
        {
            var denied = http.RequestServices.GetRequiredService<DeniedRequests>();
            if (!denied.AllowFailure(http))
            {
                denied.Count(http, "anonymous", null, "throttled");
                http.Response.Headers.RetryAfter = "1";
                return Deny(StatusCodes.Status429TooManyRequests, "Too many refused requests from this address; retry later.");
            }
            denied.Count(http, "anonymous", null, "forbidden");
            return refusal;
        }
        var caller = Caller.Current;
        Audit(http, caller.Principal, caller.Role, "allowed");
        return await next(context);
    }

    private IResult? Refusal(HttpContext http)
    {
        var expected = (configuration[TokenVariable] ?? Environment.GetEnvironmentVariable(TokenVariable))?.Trim();
        if (string.IsNullOrEmpty(expected))
            return Deny(StatusCodes.Status503ServiceUnavailable,
                $"Internal API not configured: {TokenVariable} env var unset on the server. Set it to enable /api/internal/*.");

        var header = http.Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
            return Deny(StatusCodes.Status403Forbidden, "Internal API requires Authorization header with Bearer token.");

        var space = header.IndexOf(' ');
        var scheme = space < 0 ? header : header[..space];
        var token = space < 0 ? "" : header[(space + 1)..].Trim();
        if (!scheme.Equals("bearer", StringComparison.OrdinalIgnoreCase) || token.Length == 0)
            return Deny(StatusCodes.Status403Forbidden, "Internal API requires 'Bearer <token>' Authorization scheme.");

        return TokensEqual(token, expected) ? null : Deny(StatusCodes.Status403Forbidden, "Invalid service-account token for /api/internal/*.");
    }

    /// <summary>Every admitted internal-API call is audited; refused ones are counted by <see cref="DeniedRequests"/>.</summary>
    private static void Audit(HttpContext http, string principal, string? role, string outcome) =>
        http.RequestServices.GetRequiredService<IGrainFactory>().Reference<IAuditGrain>(0).Record(new AuditEntry(
            principal, role, "internal" + http.Request.Path.Value!["/api/internal".Length..].Replace('/', '.'),
            $"{http.Request.Method} {http.Request.Path}", null, null, outcome, null)).Ignore();

    /// <summary>
    /// Constant time by construction: both sides are hashed to fixed-length digests first, so neither the length
    /// nor the position of the first differing character changes how long the comparison takes.
    /// </summary>
    public static bool TokensEqual(string presented, string expected) =>
        CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(presented)),
            SHA256.HashData(Encoding.UTF8.GetBytes(expected)));

    private static IResult Deny(int status, string message) => Results.Json(new { detail = message }, statusCode: status);
}
