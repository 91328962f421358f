using System.Text.Json.Nodes;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Auth;

/// <summary>
/// The token login of NoETL's web GUI: <c>POST /api/auth/validate {"session_token"}</c>, sent without an
/// <c>Authorization</c> header on login and on every page load. It is the same check as every authenticated route
/// (constant time against all principals, no database, no grain) and costs the caller the same: an invalid token is
/// charged to the client address's failed-authentication budget (429 once spent) and counted in the aggregated
/// <c>auth.denied</c> audit, so it is no faster an oracle for guessing tokens than any other route.
/// </summary>
public static class AuthEndpoints
{
    public const string ValidatePath = "/api/auth/validate";

    /// <summary>NoETL's Python server names it so (noetl-api.md, peripheral routes).</summary>
    public const string SessionValidatePath = "/api/auth/session/validate";

    /// <summary>GUI roles: its Catalog, Execution, Edit and Secrets pages are shown to <c>admin</c> only.</summary>
    public const string AdminRole = "admin";

    public static void MapAuthEndpoints(this IEndpointRouteBuilder app)
    {
        foreach (var route in new[] { ValidatePath, SessionValidatePath })
            app.MapPost(route, Validate);
    }

    private static async Task<IResult> Validate(HttpContext context, ApiPrincipals principals, DeniedRequests denied)
    {
        var (body, error) = await RequestBody.ReadAsync(context.Request);
        if (body is null)
            return error!;
        var token = body.Text("session_token", "token");
        if (token is null && !body.HasErrors)
            body.Add("missing", "session_token", "Field required");
        if (body.HasErrors)
            return body.Errors();
        if (token!.Trim() is { Length: > 0 } presented && principals.Authenticate(presented) is { } principal)
            return Results.Json(new JsonObject { ["valid"] = true, ["user"] = User(principal) });
        if (await denied.ThrottleFailureAsync(context))
            return Results.Empty;
        denied.Count(context, "anonymous", null, "unauthenticated");
        return Results.Json(new JsonObject { ["valid"] = false });
    }

    /// <summary>
    /// The GUI's user: principals have names, not mail addresses, so both fields carry the name. A worker's pool is a
    /// field of its own, never a role: a pool named "admin" must not open the GUI's admin pages.
    /// </summary>
    public static JsonObject User(ApiPrincipal principal) => new()
    {
        ["email"] = principal.Name,
        ["display_name"] = principal.Name,
        ["roles"] = principal.Role == Caller.OperatorRole
            ? new JsonArray(AdminRole, Caller.OperatorRole)
            : new JsonArray(principal.Role),
        ["pool"] = principal.Pool,
    };
}
