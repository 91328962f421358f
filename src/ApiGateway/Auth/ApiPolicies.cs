using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using NoEtl.ApiGateway.Internal;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Auth;

/// <summary>
/// The authorization policies routes name. Route groups get theirs where the features are composed
/// (<c>Hosting/ApiRoutes.cs</c>); a route that narrows its group's policy says so next to its handler
/// (<see cref="ForOperators{TBuilder}"/>, <see cref="ForWorkers{TBuilder}"/>). Policies combine: every one a route
/// carries must pass.
/// </summary>
public static class ApiPolicies
{
    /// <summary>Any bearer principal: a worker pool or an operator.</summary>
    public const string Principal = "principal";

    public const string Worker = "worker";

    public const string Operator = "operator";

    /// <summary>The holder of <c>NOETL_INTERNAL_API_TOKEN</c>, by NoETL's own gate (503/403, never 401).</summary>
    public const string Internal = "internal";

    public static void Add(AuthorizationBuilder authorization) => authorization
        .AddPolicy(Principal, policy => policy.AddAuthenticationSchemes(BearerAuthenticationHandler.SchemeName)
            .AddRequirements(new CallerRoleRequirement(Caller.WorkerRole, Caller.OperatorRole)))
        .AddPolicy(Worker, policy => policy.AddAuthenticationSchemes(BearerAuthenticationHandler.SchemeName)
            .AddRequirements(new CallerRoleRequirement(Caller.WorkerRole)))
        .AddPolicy(Operator, policy => policy.AddAuthenticationSchemes(BearerAuthenticationHandler.SchemeName)
            .AddRequirements(new CallerRoleRequirement(Caller.OperatorRole)))
        .AddPolicy(Internal, policy => policy.AddAuthenticationSchemes(InternalTokenHandler.SchemeName).RequireAuthenticatedUser())
        // Requests no route claims (and the 405 endpoints of routing): under /api they still need a principal, so an
        // unknown route answers 401 before 404 and tells a caller without a token nothing about the route table.
        .SetFallbackPolicy(new AuthorizationPolicyBuilder(BearerAuthenticationHandler.SchemeName)
            .AddRequirements(new UnclaimedRequestRequirement()).Build());

    public static TBuilder ForWorkers<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(Worker);

    public static TBuilder ForOperators<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(Operator);

    public static TBuilder ForAnyPrincipal<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(Principal);
}

/// <summary>
/// An authenticated caller in one of the roles (the development principal passes all). A refusal is answered 403 by
/// <see cref="ApiAuthorizationResults"/>, naming the roles allowed.
/// </summary>
public sealed class CallerRoleRequirement(params string[] roles) : AuthorizationHandler<CallerRoleRequirement>, IAuthorizationRequirement
{
    public IReadOnlyList<string> Roles { get; } = roles;

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, CallerRoleRequirement requirement)
    {
        if (context.User.Identity?.IsAuthenticated == true
            && context.User.FindFirstValue(ClaimTypes.Role) is { } role
            && (role == ApiClaims.DevelopmentRole || requirement.Roles.Contains(role)))
            context.Succeed(requirement);
        return Task.CompletedTask;
    }
}

/// <summary>The fallback policy's test: outside <c>/api</c> anyone passes; inside, any authenticated caller.</summary>
public sealed class UnclaimedRequestRequirement : AuthorizationHandler<UnclaimedRequestRequirement>, IAuthorizationRequirement
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, UnclaimedRequestRequirement requirement)
    {
        var path = context.Resource is HttpContext http ? http.Request.Path : PathString.Empty;
        if (!path.StartsWithSegments("/api") || context.User.Identity?.IsAuthenticated == true)
            context.Succeed(requirement);
        return Task.CompletedTask;
    }
}
