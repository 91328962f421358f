using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Auth;

/// <summary>
/// The GUI's login body: <c>{"session_token"}</c> (or <c>token</c>). An empty token is a refusal (<c>valid: false</c>),
/// not a 422, so the field is required only to be present.
/// </summary>
public sealed record SessionTokenRequest([property: FreeText, AlsoNamed("token"), JsonRequired] string? SessionToken) : IRequestRules<SessionTokenRequest>
{
    public static void Check(RequestBody body)
    {
        if (body.Raw("session_token", "token") is null)
            body.Add("missing", "session_token", "Field required");
    }
}

/// <summary>The login's answer: <c>{"valid": true, "user"}</c>, or <c>{"valid": false}</c> without a user.</summary>
public sealed record SessionValidation(bool Valid, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] GuiUser? User);

/// <summary>
/// The GUI's user: principals have names, not mail addresses, so both fields carry the name. A worker's pool is a
/// field of its own, never a role: a pool named "admin" must not open the GUI's admin pages.
/// </summary>
public sealed record GuiUser(string Email, string DisplayName, IReadOnlyList<string> Roles, string? Pool);

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

    /// <returns>The validation, or nothing once the address's failure budget is spent (<see cref="DeniedRequests"/> wrote the 429).</returns>
    private static async Task<Results<Ok<SessionValidation>, EmptyHttpResult>> Validate(
        JsonBody<SessionTokenRequest> body, HttpContext context, ApiPrincipals principals, DeniedRequests denied)
    {
        if (body.Value.SessionToken!.Trim() is { Length: > 0 } presented && principals.Authenticate(presented) is { } principal)
            return TypedResults.Ok(new SessionValidation(true, User(principal)));
        if (await denied.ThrottleFailureAsync(context))
            return TypedResults.Empty;
        denied.Count(context, "anonymous", null, "unauthenticated");
        return TypedResults.Ok(new SessionValidation(false, null));
    }

    public static GuiUser User(ApiPrincipal principal) => new(
        principal.Name,
        principal.Name,
        principal.Role == Caller.OperatorRole ? [AdminRole, Caller.OperatorRole] : [principal.Role],
        principal.Pool);
}
