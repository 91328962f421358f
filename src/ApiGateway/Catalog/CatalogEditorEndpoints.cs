using Microsoft.AspNetCore.Mvc;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Catalog;

/// <summary>
/// The catalog routes of NoETL's web GUI (its View, Editor and Run dialog), in NoETL's shapes. Reading is open to
/// both principals, as the catalog list is; validating and saving are the editor's, the operator's.
/// </summary>
public static class CatalogEditorEndpoints
{
    private const string UiSchemaSuffix = "/ui_schema";

    public static void MapCatalogEditorEndpoints(this IEndpointRouteBuilder app)
    {
        var catalog = app.MapGroup("/api/catalog");

        catalog.MapGet("/playbook/content", async ([FromQuery(Name = "playbook_id")] string? playbookId, IGrainFactory grains) =>
            RequiredPlaybookId(playbookId) ?? await grains.Reference<ICatalogGrain>(0).Content(playbookId!).ToHttp()).ForAnyPrincipal();

        catalog.MapPut("/playbook/content", async ([FromQuery(Name = "playbook_id")] string? playbookId, HttpRequest request, IGrainFactory grains) =>
        {
            if (RequiredPlaybookId(playbookId) is { } missing)
                return missing;
            var (content, _, error) = await CatalogEndpoints.ReadDocumentAsync(request);
            return error ?? await grains.Reference<ICatalogGrain>(0).RegisterAt(playbookId!, content).ToHttp();
        }).ForOperators();

        catalog.MapPost("/playbooks/validate", async (HttpRequest request, IGrainFactory grains) =>
        {
            var (content, resourceType, error) = await CatalogEndpoints.ReadDocumentAsync(request);
            return error ?? await grains.Reference<ICatalogGrain>(0).Validate(content, resourceType).ToHttp();
        }).ForOperators();

        catalog.MapPost("/agents/list", async (HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request, allowEmpty: true);
            if (body is null)
                return error!;
            return await grains.Reference<ICatalogGrain>(0).List("agent", null).ToHttp();
        }).ForAnyPrincipal();

        // Catalog paths contain '/': only a catch-all can hold one, so the suffix is taken off here.
        catalog.MapGet("/{**path}", (string path, [FromQuery(Name = "version")] string? version, IGrainFactory grains) =>
        {
            if (!path.EndsWith(UiSchemaSuffix, StringComparison.Ordinal) || path.Length == UiSchemaSuffix.Length)
                return Task.FromResult(ReplyResults.NotFound("Not Found"));
            int? number = null;
            if (!string.IsNullOrWhiteSpace(version) && version != "latest")
            {
                if (!int.TryParse(version, out var parsed) || parsed < 1 || parsed > short.MaxValue)
                    return Task.FromResult(RequestBody.Problem("int_parsing", ["query", "version"], "version must be 'latest' or a version number"));
                number = parsed;
            }
            return grains.Reference<ICatalogGrain>(0).UiSchema(path[..^UiSchemaSuffix.Length], number).ToHttp();
        }).ForAnyPrincipal();
    }

    private static IResult? RequiredPlaybookId(string? playbookId) => string.IsNullOrWhiteSpace(playbookId)
        ? RequestBody.Problem("missing", ["query", "playbook_id"], "playbook_id is required (a catalog id or a path)")
        : null;
}
