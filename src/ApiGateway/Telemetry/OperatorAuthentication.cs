using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using NoEtl.ApiGateway.Internal;

namespace NoEtl.ApiGateway.Telemetry;

public sealed class OperatorAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary><c>NOETL_OPERATOR_TOKEN</c>; unset means nobody is an operator (never open by default).</summary>
    public string? Token { get; set; }
}

/// <summary>
/// The operator credential of the dashboard, which has no authentication of its own: <c>Authorization: Bearer
/// &lt;NOETL_OPERATOR_TOKEN&gt;</c>, or HTTP Basic with user <c>operator</c> and the token as password so that a
/// browser can open the page. Failures answer 401 with both challenges, so a browser shows its login prompt.
/// </summary>
public sealed class OperatorAuthenticationHandler(
    IOptionsMonitor<OperatorAuthenticationOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<OperatorAuthenticationOptions>(options, logger, encoder)
{
    public const string SchemeName = "Operator";
    public const string Policy = "operator-console";
    public const string UserName = "operator";
    private const string Realm = "noetl-operator";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (string.IsNullOrEmpty(Options.Token))
            return Task.FromResult(AuthenticateResult.Fail("NOETL_OPERATOR_TOKEN is not set: operator routes are closed"));
        if (!AuthenticationHeaderValue.TryParse(Request.Headers.Authorization, out var header) || string.IsNullOrEmpty(header.Parameter))
            return Task.FromResult(AuthenticateResult.NoResult());

        var presented = header.Scheme.ToLowerInvariant() switch
        {
            "bearer" => header.Parameter,
            "basic" => BasicPassword(header.Parameter),
            _ => null,
        };
        if (presented is null || !InternalTokenHandler.TokensEqual(presented, Options.Token))
            return Task.FromResult(AuthenticateResult.Fail("invalid operator credential"));

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, UserName)], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.Append("WWW-Authenticate", $"Basic realm=\"{Realm}\", charset=\"UTF-8\"");
        Response.Headers.Append("WWW-Authenticate", $"Bearer realm=\"{Realm}\"");
        await Response.WriteAsJsonAsync(new { detail = "operator credential required (NOETL_OPERATOR_TOKEN)" });
    }

    /// <summary>The password of <c>operator:&lt;password&gt;</c>; any other user is refused.</summary>
    private static string? BasicPassword(string encoded)
    {
        string decoded;
        try { decoded = Encoding.UTF8.GetString(Convert.FromBase64String(encoded)); }
        catch (FormatException) { return null; }
        var colon = decoded.IndexOf(':');
        return colon > 0 && decoded[..colon] == UserName ? decoded[(colon + 1)..] : null;
    }
}
