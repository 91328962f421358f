using NoEtl.Grains;

namespace NoEtl.ApiGateway.Auth;

/// <summary>
/// Bearer authentication of the public API, on unless <c>NOETL_AUTH_DISABLED=true</c> (development only).
/// <c>/api/internal/*</c> keeps NoETL's own gate (503/403, never 401); health routes stay open for probes.
/// The caller flows to the grains through Orleans' request context, for authorization and audit.
/// </summary>
public sealed class ApiAuthentication
{
    public const string CallerItem = "noetl.caller";
    private readonly RequestDelegate _next;
    private readonly ApiPrincipals _principals;
    private readonly DeniedRequests _denied;
    private readonly bool _disabled;

    public ApiAuthentication(RequestDelegate next, ApiPrincipals principals, DeniedRequests denied, IConfiguration configuration, ILogger<ApiAuthentication> logger)
    {
        (_next, _principals, _denied) = (next, principals, denied);
        _disabled = IsDisabled(configuration);
        // Built once, at start-up: an open API must not go unnoticed in the logs.
        if (_disabled)
            logger.LogWarning("AUTHENTICATION IS DISABLED (NOETL_AUTH_DISABLED=true): every caller of /api/* is an anonymous development " +
                "principal with every right, secrets included. Development only; never expose this gateway.");
    }

    public static bool IsDisabled(IConfiguration configuration) =>
        string.Equals(configuration["NOETL_AUTH_DISABLED"], "true", StringComparison.OrdinalIgnoreCase);

    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        var route = $"{context.Request.Method} {(context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? path.Value}";
        // The token check itself (the GUI's login) is open: it answers {"valid": false} rather than 401.
        if (!path.StartsWithSegments("/api") || path.StartsWithSegments("/api/health") || AuthEndpoints.IsOpen(path))
        {
            // Open routes still name their caller: a grain never mistakes a request for the server's own call.
            new Caller("anonymous", "anonymous", null, route).Enter();
            await _next(context);
            return;
        }
        if (path.StartsWithSegments("/api/internal"))
        {
            // Audited as the system pool; the token gate itself decides.
            new Caller("system-pool", Caller.WorkerRole, "system", route).Enter();
            await _next(context);
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
            if (token.Length == 0 || _principals.Authenticate(token) is not { } principal)
            {
                await RefuseAsync(context);
                return;
            }
            caller = new Caller(principal.Name, principal.Role, principal.Pool, route);
        }
        context.Items[CallerItem] = caller;
        caller.Enter();
        await _next(context);
    }

    private async Task RefuseAsync(HttpContext context)
    {
        if (await _denied.ThrottleFailureAsync(context))
            return;
        _denied.Count(context, "anonymous", null, "unauthenticated");
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
        if (!ApiAuthentication.IsDisabled(builder.Configuration) && principals.Count == 0)
            throw new InvalidOperationException(
                "Authentication is on but no principal is configured: set NOETL_API_TOKENS_FILE (or NOETL_API_TOKENS) and/or " +
                "NOETL_INTERNAL_API_TOKEN, or NOETL_AUTH_DISABLED=true for development.");
        builder.Services.AddSingleton(principals);
        builder.Services.AddSingleton(DeniedRequestsOptions.From(builder.Configuration));
        builder.Services.AddSingleton<DeniedRequests>();
        builder.Services.AddHostedService<DeniedRequestsFlusher>();
    }
}
