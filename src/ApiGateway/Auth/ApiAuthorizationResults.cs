using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace NoEtl.ApiGateway.Auth;

/// <summary>
/// A principal without the route's role gets 403 <c>{"detail": "... may not call ...; allowed: ..."}</c> and is
/// counted in the aggregated <c>auth.denied</c> audit. Challenges stay with the schemes (401 bearer, the internal
/// gate's 403/503), everything else with ASP.NET's default handling.
/// </summary>
public sealed class ApiAuthorizationResults(DeniedRequests denied) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Forbidden && authorizeResult.AuthorizationFailure?.FailedRequirements.OfType<CallerRoleRequirement>().FirstOrDefault() is { } refused)
        {
            var caller = ApiClaims.CallerOf(context);
            denied.Count(context, caller.Principal, caller.Role, "forbidden");
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsJsonAsync(new
            {
                detail = $"{caller.Principal} ({caller.Role}) may not call {caller.Route}; allowed: {string.Join(", ", refused.Roles)}",
            });
            return;
        }
        await _default.HandleAsync(next, context, policy, authorizeResult);
    }
}
