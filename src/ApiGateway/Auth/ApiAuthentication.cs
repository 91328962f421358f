using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using NoEtl.ApiGateway.Internal;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Auth;

/// <summary>
/// Authentication of the public API with ASP.NET Core's own machinery, the same as the dashboard's operator
/// credential: a bearer scheme (<see cref="BearerAuthenticationHandler"/>), the internal API's token scheme
/// (<see cref="InternalTokenHandler"/>) and the policies of <see cref="ApiPolicies"/>, which routes name. After
/// authorization the request's <see cref="Caller"/> enters Orleans' request context, for the grains' authorization
/// and audit. <c>NOETL_AUTH_DISABLED=true</c> (development only) makes every public caller an all-powerful
/// anonymous principal; the internal API keeps its gate.
/// </summary>
public static class ApiAuthentication
{
    /// <summary>The <see cref="Caller"/> of a request authenticated by a bearer principal (or the development one).</summary>
    public const string CallerItem = "noetl.caller";

    public static bool IsDisabled(IConfiguration configuration) =>
        string.Equals(configuration["NOETL_AUTH_DISABLED"], "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Refuses to start with authentication on and nobody able to authenticate.</summary>
    public static void AddApiAuthentication(this WebApplicationBuilder builder)
    {
        var principals = ApiPrincipals.FromConfiguration(builder.Configuration);
        var disabled = IsDisabled(builder.Configuration);
        if (!disabled && principals.Count == 0)
            throw new InvalidOperationException(
                "Authentication is on but no principal is configured: set NOETL_API_TOKENS_FILE (or NOETL_API_TOKENS) and/or " +
                "NOETL_INTERNAL_API_TOKEN, or NOETL_AUTH_DISABLED=true for development.");
        builder.Services.AddSingleton(principals);
        builder.Services.AddSingleton(DeniedRequestsOptions.From(builder.Configuration));
        builder.Services.AddSingleton<DeniedRequests>();
        builder.Services.AddHostedService<DeniedRequestsFlusher>();

        // The core services only: AddAuthentication would also start ASP.NET data protection, which nothing here uses.
        // No default scheme: each policy names its own, so a route that asks for none authenticates nobody.
        builder.Services.AddWebEncoders();
        builder.Services.AddAuthenticationCore(schemes =>
        {
            schemes.AddScheme<BearerAuthenticationHandler>(BearerAuthenticationHandler.SchemeName, "NoETL bearer principal");
            schemes.AddScheme<InternalTokenHandler>(InternalTokenHandler.SchemeName, "NoETL internal API token");
        });
        builder.Services.Configure<BearerAuthenticationOptions>(BearerAuthenticationHandler.SchemeName, bearer => bearer.Disabled = disabled);
        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, ApiAuthorizationResults>();
        ApiPolicies.Add(builder.Services.AddAuthorizationBuilder());
    }

    /// <summary>Authentication, authorization, then the caller into Orleans' request context for the rest of the request.</summary>
    public static void UseApiAuthentication(this WebApplication app)
    {
        if (IsDisabled(app.Configuration))
            app.Services.GetRequiredService<ILogger<BearerAuthenticationHandler>>().LogWarning(
                "AUTHENTICATION IS DISABLED (NOETL_AUTH_DISABLED=true): every caller of /api/* is an anonymous development " +
                "principal with every right, secrets included. Development only; never expose this gateway.");
        app.UseAuthentication();
        app.UseAuthorization();
        // Orleans' request context lives in an AsyncLocal: it must be set here, around the rest of the pipeline, not
        // inside the authentication handler, whose changes would not outlive its own call.
        app.Use((context, next) =>
        {
            var caller = ApiClaims.CallerOf(context);
            if (context.User.Identity?.AuthenticationType == BearerAuthenticationHandler.SchemeName)
                context.Items[CallerItem] = caller;
            caller.Enter();
            return next(context);
        });
    }
}
