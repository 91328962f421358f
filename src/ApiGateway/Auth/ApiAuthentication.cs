using NoEtl.Grains;

namespace NoEtl.ApiGateway.Auth;

/// <summary>
/// Bearer authentication of the public API, on unless <c>NOETL_AUTH_DISABLED=true</c> (development only).
/// <c>/api/internal/*</c> keeps NoETL's own gate (503/403, never 401); health routes stay open for probes.
/// The caller flows to the grains through Orleans' request context, for authorization and audit.
/// </summary>
public sealed class ApiAuthentication(RequestDelegate next, ApiPrincipals principals, DeniedRequests denied, IConfiguration configuration)
{
    public const string CallerItem = "noetl.caller";
    private readonly bool _disabled = string.Equals(configuration["NOETL_AUTH_DISABLED"], "true", StringComparison.OrdinalIgnoreCase);

    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        var route = $"{context.Request.Method} {(context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? path.Value}";
        if (!path.StartsWithSegments("/api") || path.StartsWithSegments("/api/health"))
        {
            // Open routes still name their caller: a grain never mistakes a request for the server's own call.
            new Caller("anonymous", "anonymous", null, route).Enter();
            await next(context);
            return;
        }
        if (path.StartsWithSegments("/api/internal"))
        {
            // Audited as the system pool; the token gate itself decides.
            new Caller("system-pool", Caller.WorkerRole, "system", route).Enter();
            await next(context);
            return;
        }

        Caller caller;
        if (_disabled)
        {
            caller = new Caller("anonymous", "development", null, route);
        }
        else
        {
            var header = context.Request.Headers.Authorization.ToString();
            var token = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : "";
            if (token.Length == 0 || principals.Authenticate(token) is not { } principal)
            {
                await RefuseAsync(context);
                return;
            }
            caller = new Caller(principal.Name, principal.Role, principal.Pool, route);
        }
        context.Items[CallerItem] = caller;
        caller.Enter();
        await next(context);
    }

    private async Task RefuseAsync(HttpContext context)
    {
        if (!denied.AllowFailure(context))
        {
            denied.Count(context, "anonymous", null, "throttled");
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = "1";
            await context.Response.WriteAsJsonAsync(new { detail = "Too many requests with missing or invalid credentials from this address; retry later." });
            return;
        }
        denied.Count(context, "anonymous", null, "unauthenticated");
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer realm=\"noetl\"";
        await context.Response.WriteAsJsonAsync(new { detail = "Authentication required: send 'Authorization: Bearer <token>'." });
    }
}

/// <summary>Lets only the given roles through (403 otherwise); everything passes when authentication is disabled.</summary>
public sealed class CallerRequirement(string[] roles) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (context.HttpContext.Items[ApiAuthentication.CallerItem] is Caller { Role: var role } caller && role != "development" && !roles.Contains(role))
        {
            context.HttpContext.RequestServices.GetRequiredService<DeniedRequests>().Count(context.HttpContext, caller.Principal, caller.Role, "forbidden");
            return Results.Json(new { detail = $"{caller.Principal} ({role}) may not call {caller.Route}; allowed: {string.Join(", ", roles)}" },
                statusCode: StatusCodes.Status403Forbidden);
        }
        return await next(context);
    }
}

public static class CallerRequirements
{
    public static TBuilder RequireCaller<TBuilder>(this TBuilder builder, params string[] roles) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(new CallerRequirement(roles));

    public static TBuilder ForWorkers<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireCaller(Caller.WorkerRole);

    public static TBuilder ForOperators<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireCaller(Caller.OperatorRole);

    public static TBuilder ForAnyPrincipal<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireCaller(Caller.WorkerRole, Caller.OperatorRole);

    /// <summary>Refuses to start with authentication on and nobody able to authenticate.</summary>
    public static void AddApiAuthentication(this WebApplicationBuilder builder)
    {
        var principals = ApiPrincipals.FromConfiguration(builder.Configuration);
        var disabled = string.Equals(builder.Configuration["NOETL_AUTH_DISABLED"], "true", StringComparison.OrdinalIgnoreCase);
        if (!disabled && principals.Count == 0)
            throw new InvalidOperationException(
                "Authentication is on but no principal is configured: set NOETL_API_TOKENS_FILE (or NOETL_API_TOKENS) and/or " +
                "NOETL_INTERNAL_API_TOKEN, or NOETL_AUTH_DISABLED=true for development.");
        builder.Services.AddSingleton(principals);
        builder.Services.AddSingleton(DeniedRequestsOptions.From(builder.Configuration));
        builder.Services.AddSingleton<DeniedRequests>();
        builder.Services.AddHostedService<DeniedRequestsFlusher>();
    }
}
