using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Catalog;

/// <summary>The body of <c>POST /api/catalog/agents/list</c>: any JSON object (or none); the GUI sends filters the catalog does not apply.</summary>
public sealed record AgentListRequest : IOptionalBody;

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
        catalog.MapGet("/playbook/content", Content).ForAnyPrincipal();
        catalog.MapPut("/playbook/content", Save).ForOperators();
        catalog.MapPost("/playbooks/validate", Validate).ForOperators();
        catalog.MapPost("/agents/list", Agents).ForAnyPrincipal();
        // Catalog paths contain '/': only a catch-all can hold one, so the suffix is taken off in the handler.
        catalog.MapGet("/{**path}", UiSchema).ForAnyPrincipal();
    }

    private static async Task<Results<Ok<PlaybookContent>, UnprocessableEntity<ValidationErrors>, NotFound<ErrorBody>, UnavailableError>> Content(
        [FromQuery(Name = "playbook_id")] string? playbookId, IGrainFactory grains)
    {
        if (string.IsNullOrWhiteSpace(playbookId))
            return MissingPlaybookId();
        var outcome = await grains.Reference<ICatalogGrain>(0).Content(playbookId);
        return outcome switch
        {
            { Value: { } content } => TypedResults.Ok(content),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<CatalogRegistration>, UnprocessableEntity<ValidationErrors>, ForbiddenError, UnavailableError>> Save(
        [FromQuery(Name = "playbook_id")] string? playbookId, JsonBody<CatalogDocumentRequest> body, IGrainFactory grains) =>
        string.IsNullOrWhiteSpace(playbookId)
            ? MissingPlaybookId()
            : CatalogEndpoints.Registered(await grains.Reference<ICatalogGrain>(0).RegisterAt(playbookId, body.Value.Yaml));

    private static async Task<Ok<PlaybookValidation>> Validate(JsonBody<CatalogDocumentRequest> body, IGrainFactory grains) =>
        TypedResults.Ok(await grains.Reference<ICatalogGrain>(0).Validate(body.Value.Yaml, body.Value.ResourceType));

    private static async Task<Results<Ok<CatalogEntries>, UnavailableError>> Agents(JsonBody<AgentListRequest> body, IGrainFactory grains) =>
        CatalogEndpoints.Listed(await grains.Reference<ICatalogGrain>(0).List("agent", null));

    private static async Task<Results<Ok<RunForm>, NotFound<ErrorBody>, UnprocessableEntity<ValidationErrors>, UnprocessableEntity<ErrorBody>, UnavailableError>> UiSchema(
        string path, [FromQuery(Name = "version")] string? version, IGrainFactory grains)
    {
        if (!path.EndsWith(UiSchemaSuffix, StringComparison.Ordinal) || path.Length == UiSchemaSuffix.Length)
            return TypedResults.NotFound(new ErrorBody(JsonValue.Create("Not Found")));
        int? number = null;
        if (!string.IsNullOrWhiteSpace(version) && version != "latest")
        {
            if (!int.TryParse(version, out var parsed) || parsed < 1 || parsed > short.MaxValue)
                return ContractResults.FieldProblem("int_parsing", ["query", "version"], "version must be 'latest' or a version number");
            number = parsed;
        }
        var outcome = await grains.Reference<ICatalogGrain>(0).UiSchema(path[..^UiSchemaSuffix.Length], number);
        return outcome switch
        {
            { Value: { } form } => TypedResults.Ok(form),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            { Failure: { Kind: FailureKind.Invalid } failure } => ContractResults.Unprocessable(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static UnprocessableEntity<ValidationErrors> MissingPlaybookId() =>
        ContractResults.FieldProblem("missing", ["query", "playbook_id"], "playbook_id is required (a catalog id or a path)");
}
