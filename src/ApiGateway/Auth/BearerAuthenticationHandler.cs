using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace NoEtl.ApiGateway.Auth;

public sealed class BearerAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary><c>NOETL_AUTH_DISABLED=true</c>: everyone is the anonymous development principal.</summary>
    public bool Disabled { get; set; }
}

/// <summary>
/// The public API's principals: <c>Authorization: Bearer &lt;token&gt;</c> against <see cref="ApiPrincipals"/>
/// (hashed, compared in constant time). A missing or unknown token is challenged with 401 and
/// <c>WWW-Authenticate: Bearer</c>, charged to the client address's failed-authentication budget (429 once spent)
/// and counted in the aggregated <c>auth.denied</c> audit. Valid tokens are never charged.
/// </summary>
public sealed class BearerAuthenticationHandler(
    IOptionsMonitor<BearerAuthenticationOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiPrincipals principals, DeniedRequests denied)
    : AuthenticationHandler<BearerAuthenticationOptions>(options, logger, encoder)
{
    public const string SchemeName = "NoEtlBearer";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Options.Disabled)
            return Task.FromResult(Success(ApiClaims.AnonymousName, ApiClaims.DevelopmentRole, null));
        var header = Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : "";
        if (token.Length == 0)
            return Task.FromResult(AuthenticateResult.NoResult());
        return Task.FromResult(principals.Authenticate(token) is { } principal
            ? Success(principal.Name, principal.Role, principal.Pool)
            : AuthenticateResult.Fail("unknown bearer token"));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (await denied.ThrottleFailureAsync(Context))
            return;
        denied.Count(Context, ApiClaims.AnonymousName, null, "unauthenticated");
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer realm=\"noetl\"";
        await Response.WriteAsJsonAsync(new { detail = "Authentication required: send 'Authorization: Bearer <token>'." });
    }

    private AuthenticateResult Success(string name, string role, string? pool) =>
        AuthenticateResult.Success(new AuthenticationTicket(ApiClaims.Principal(Scheme.Name, name, role, pool), Scheme.Name));
}
