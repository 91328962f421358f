using System.Security.Claims;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Auth;

/// <summary>How an authenticated principal is carried in ASP.NET (claims) and handed to the grains (<see cref="Caller"/>).</summary>
public static class ApiClaims
{
    public const string PoolClaim = "noetl.pool";

    /// <summary>The role of every caller when authentication is disabled: it passes every policy.</summary>
    public const string DevelopmentRole = "development";

    public const string AnonymousName = "anonymous";

    public static ClaimsPrincipal Principal(string scheme, string name, string role, string? pool)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, name), new(ClaimTypes.Role, role) };
        if (pool is not null)
            claims.Add(new Claim(PoolClaim, pool));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }

    /// <summary>
    /// The request's caller: its authenticated principal, or <c>anonymous</c> on open routes — which still name
    /// their caller, so a grain never mistakes a request for the server's own call.
    /// </summary>
    public static Caller CallerOf(HttpContext context)
    {
        var route = $"{context.Request.Method} {(context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? context.Request.Path.Value}";
        var user = context.User;
        return user.Identity is { IsAuthenticated: true, Name: { } name }
            ? new Caller(name, user.FindFirstValue(ClaimTypes.Role) ?? "", user.FindFirstValue(PoolClaim), route)
            : new Caller(AnonymousName, AnonymousName, null, route);
    }
}
