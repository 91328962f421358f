using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;

namespace NoEtl.ApiGateway.NotOffered;

/// <summary>
/// Routes NoETL's web GUI shows buttons for but this server does not implement (AI assistance, playbook test suites):
/// a clear 501 <c>{detail}</c> the GUI can show, instead of a 404 that reads like a broken deployment.
/// </summary>
public static class NotOfferedEndpoints
{
    private static readonly string[] AnyMethod = [HttpMethods.Get, HttpMethods.Post, HttpMethods.Put, HttpMethods.Patch, HttpMethods.Delete];

    public static void MapNotOfferedEndpoints(this IEndpointRouteBuilder app)
    {
        const string ai = "AI assistance (analyze, explain, generate) is not offered by this server.";
        NotOffered(app.MapPost("/api/executions/{id}/analyze/ai", Answer(ai)));
        NotOffered(app.MapPost("/api/catalog/playbooks/explain/ai", Answer(ai)));
        NotOffered(app.MapPost("/api/catalog/playbooks/generate/ai", Answer(ai)));
        const string suites = "Playbook test suites are not offered by this server.";
        NotOffered(app.MapMethods("/api/playbook-tests/suites", AnyMethod, Answer(suites)));
        NotOffered(app.MapMethods("/api/playbook-tests/suites/{**rest}", AnyMethod, Answer(suites)));
    }

    private static void NotOffered(RouteHandlerBuilder route) => route.ForAnyPrincipal().Produces(StatusCodes.Status501NotImplemented);

    /// <summary>A body is still read, strictly: malformed input is the client's error (422) before it is our gap (501).</summary>
    private static Func<HttpRequest, Task<IResult>> Answer(string detail) => async request =>
    {
        var (body, error) = await RequestBody.ReadAsync(request, allowEmpty: true);
        if (body is null)
            return error!;
        return Results.Json(new { detail }, statusCode: StatusCodes.Status501NotImplemented);
    };
}
