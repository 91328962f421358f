using System.ComponentModel.DataAnnotations;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Catalog;

/// <summary>
/// The playbook document of register, validate and the editor's save: <c>{content, resource_type?}</c>, the content
/// plain YAML or base64 (as the noetl CLI sends it). Bounded by the body size; the engine bounds the YAML itself
/// (docs/limits.md).
/// </summary>
public sealed record CatalogDocumentRequest([property: Required, Document] string Content, string? ResourceType)
{
    /// <summary>The content as YAML: base64 is tried first, as NoETL does, and kept only when it decodes to text with a <c>:</c>.</summary>
    [JsonIgnore]
    public string Yaml
    {
        get
        {
            var buffer = new byte[Content.Length];
            if (!Convert.TryFromBase64String(Content.Trim(), buffer, out var written))
                return Content;
            try
            {
                var decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer, 0, written);
                return decoded.Contains(':') ? decoded : Content;
            }
            catch (DecoderFallbackException)
            {
                return Content;
            }
        }
    }
}

/// <summary>The filter of <c>POST /api/catalog/list</c>; an empty body lists everything.</summary>
public sealed record CatalogListRequest(string? ResourceType, [property: FreeText] string? Path) : IOptionalBody;

/// <summary>One version of <c>POST /api/catalog/resource</c>: by catalog id or path, the latest unless a version is given.</summary>
public sealed record CatalogResourceRequest(long? CatalogId, [property: FreeText] string? Path, [property: AtLeast(1), OrLatest] int? Version)
    : IRequestRules<CatalogResourceRequest>
{
    public static void Check(RequestBody body)
    {
        // Neither an id nor a path that could be read (the reader reports a malformed one too).
        var path = body.Raw("path");
        if (WireIds.Read(body.Raw("catalog_id")) is null && path?.GetValueKind() != JsonValueKind.String)
            body.Add("missing", "catalog_id", "catalog_id or path is required");
    }
}

/// <summary>The catalog routes of the noetl CLI: register, list, resource. Registering is the operator's.</summary>
public static class CatalogEndpoints
{
    public static void MapCatalogEndpoints(this IEndpointRouteBuilder app)
    {
        var catalog = app.MapGroup("/api/catalog");
        catalog.MapPost("/register", Register).ForOperators();
        catalog.MapPost("/list", List).ForAnyPrincipal();
        catalog.MapPost("/resource", Resource).ForAnyPrincipal();
    }

    private static async Task<Results<Ok<CatalogRegistration>, UnprocessableEntity<ValidationErrors>, ForbiddenError, UnavailableError>> Register(
        JsonBody<CatalogDocumentRequest> body, IGrainFactory grains) =>
        Registered(await grains.Reference<ICatalogGrain>(0).Register(body.Value.Yaml, body.Value.ResourceType));

    /// <summary>The answer of a registration, here and in the editor's save.</summary>
    public static Results<Ok<CatalogRegistration>, UnprocessableEntity<ValidationErrors>, ForbiddenError, UnavailableError> Registered(
        Outcome<CatalogRegistration> outcome) => outcome switch
        {
            { Value: { } registered } => TypedResults.Ok(registered),
            { Failure: { Kind: FailureKind.Invalid } failure } => ContractResults.Invalid(failure),
            { Failure: { Kind: FailureKind.Forbidden } failure } => ContractResults.Forbidden(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };

    private static async Task<Results<Ok<CatalogEntries>, UnavailableError>> List(JsonBody<CatalogListRequest> body, IGrainFactory grains) =>
        Listed(await grains.Reference<ICatalogGrain>(0).List(body.Value.ResourceType, body.Value.Path));

    /// <summary>The answer of a catalog listing, here and for the GUI's agents.</summary>
    public static Results<Ok<CatalogEntries>, UnavailableError> Listed(Outcome<CatalogEntries> outcome) => outcome switch
    {
        { Value: { } entries } => TypedResults.Ok(entries),
        { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
        _ => throw ContractResults.Undeclared(outcome.Failure),
    };

    private static async Task<Results<Ok<CatalogEntry>, NotFound<ErrorBody>, UnavailableError>> Resource(
        JsonBody<CatalogResourceRequest> body, IGrainFactory grains)
    {
        var request = body.Value;
        var outcome = await grains.Reference<ICatalogGrain>(0).Resource(request.CatalogId, request.Path, request.Version);
        return outcome switch
        {
            { Value: { } entry } => TypedResults.Ok(entry),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }
}
