using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using NoEtl.ApiGateway.Auth;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Internal;

/// <summary>
/// The gate of <c>/api/internal/*</c> exactly as NoETL defines it (noetl-api.md §2), as the authentication scheme
/// of the <c>internal</c> policy: the expected token is read per request; unset → 503 (misconfigured server);
/// missing, malformed or wrong bearer → 403. Never 401. Refusals are charged to the address's failed-authentication
/// budget (429 once spent) and counted in the aggregated <c>auth.denied</c> audit; the holder is the system pool.
/// </summary>
public sealed class InternalTokenHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IConfiguration configuration, DeniedRequests denied)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "NoEtlInternal";
    public const string TokenVariable = "NOETL_INTERNAL_API_TOKEN";
    private const string StatusItem = "status";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var expected = (configuration[TokenVariable] ?? Environment.GetEnvironmentVariable(TokenVariable))?.Trim();
        if (string.IsNullOrEmpty(expected))
            return Refuse(StatusCodes.Status503ServiceUnavailable,
                $"Internal API not configured: {TokenVariable} env var unset on the server. Set it to enable /api/internal/*.");

        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
            return Refuse(StatusCodes.Status403Forbidden, "Internal API requires Authorization header with Bearer token.");

        var space = header.IndexOf(' ');
        var scheme = space < 0 ? header : header[..space];
        var token = space < 0 ? "" : header[(space + 1)..].Trim();
        if (!scheme.Equals("bearer", StringComparison.OrdinalIgnoreCase) || token.Length == 0)
            return Refuse(StatusCodes.Status403Forbidden, "Internal API requires 'Bearer <token>' Authorization scheme.");

        if (!TokensEqual(token, expected))
            return Refuse(StatusCodes.Status403Forbidden, "Invalid service-account token for /api/internal/*.");
        var principal = ApiClaims.Principal(Scheme.Name, ApiPrincipals.SystemPoolName, Caller.WorkerRole, ApiPrincipals.SystemPool);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (!denied.AllowFailure(Context))
        {
            denied.Count(Context, ApiClaims.AnonymousName, null, "throttled");
            Response.Headers.RetryAfter = "1";
            await Answer(StatusCodes.Status429TooManyRequests, "Too many refused requests from this address; retry later.");
            return;
        }
        denied.Count(Context, ApiClaims.AnonymousName, null, "forbidden");
        var refusal = await HandleAuthenticateOnceSafeAsync();
        var status = refusal.Properties?.Items.TryGetValue(StatusItem, out var text) == true && int.TryParse(text, out var code)
            ? code
            : StatusCodes.Status403Forbidden;
        await Answer(status, refusal.Failure!.Message);
    }

    /// <summary>
    /// Constant time by construction: both sides are hashed to fixed-length digests first, so neither the length
    /// nor the position of the first differing character changes how long the comparison takes.
    /// </summary>
    public static bool TokensEqual(string presented, string expected) =>
        CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(presented)),
            SHA256.HashData(Encoding.UTF8.GetBytes(expected)));

    private static Task<AuthenticateResult> Refuse(int status, string message) =>
        Task.FromResult(AuthenticateResult.Fail(message, new AuthenticationProperties(new Dictionary<string, string?> { [StatusItem] = status.ToString() })));

    private Task Answer(int status, string message)
    {
        Response.StatusCode = status;
        return Response.WriteAsJsonAsync(new { detail = message });
    }
}

/// <summary>Every admitted internal-API call is audited; refused ones are counted by <see cref="DeniedRequests"/>.</summary>
public sealed class InternalCallAudit(IGrainFactory grains) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var caller = Caller.Current;
        grains.Reference<IAuditGrain>(0).Record(new AuditEntry(
            caller.Principal, caller.Role, "internal" + http.Request.Path.Value!["/api/internal".Length..].Replace('/', '.'),
            $"{http.Request.Method} {http.Request.Path}", null, null, "allowed", null)).Ignore();
        return next(context);
    }
}
