using NoEtl.ApiGateway.Auth;
using System.Text;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Catalog;

public static class CatalogEndpoints
{
    public static void MapCatalogEndpoints(this IEndpointRouteBuilder app)
    {
        var catalog = app.MapGroup("/api/catalog");

        catalog.MapPost("/register", async (HttpRequest request, IGrainFactory grains) =>
        {
            var (content, resourceType, error) = await ReadDocumentAsync(request);
            return error ?? await grains.Reference<ICatalogGrain>(0).Register(content, resourceType).ToHttp();
        }).ForOperators();

        catalog.MapPost("/list", async (HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request, allowEmpty: true);
            if (body is null)
                return error!;
            var resourceType = body.String("resource_type");
            var path = body.Text("path");
            if (body.HasErrors)
                return body.Errors();
            return await grains.Reference<ICatalogGrain>(0).List(resourceType, path).ToHttp();
        }).ForAnyPrincipal();

        catalog.MapPost("/resource", async (HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var catalogId = body.Id("catalog_id");
            var path = body.Text("path");
            var version = body.Raw("version") is { } v && v.ToString() == "latest" ? null : body.Int("version", 1);
            if (catalogId is null && path is null)
                body.Add("missing", "catalog_id", "catalog_id or path is required");
            if (body.HasErrors)
                return body.Errors();
            return await grains.Reference<ICatalogGrain>(0).Resource(catalogId, path, version).ToHttp();
        }).ForAnyPrincipal();
    }

    /// <summary>The CLI sends base64; other callers send plain YAML. Base64 is tried first, as NoETL does.</summary>
    /// <summary>
    /// The playbook document of register, validate and the editor's save: <c>{content, resource_type?}</c>, the content
    /// plain YAML or base64 (as the noetl CLI sends it), decoded; or the 422 that refuses the body.
    /// </summary>
    public static async Task<(string Content, string? ResourceType, IResult? Error)> ReadDocumentAsync(HttpRequest request)
    {
        var (body, error) = await RequestBody.ReadAsync(request);
        if (body is null)
            return ("", null, error);
        // Bounded by the body size; the engine bounds the YAML itself (docs/limits.md).
        var content = body.RequiredText("content", maxLength: int.MaxValue);
        var resourceType = body.String("resource_type");
        return body.HasErrors ? ("", null, body.Errors()) : (DecodeContent(content), resourceType, null);
    }

    private static string DecodeContent(string content)
    {
        var buffer = new byte[content.Length];
        if (!Convert.TryFromBase64String(content.Trim(), buffer, out var written))
            return content;
        try
        {
            var decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer, 0, written);
            return decoded.Contains(':') ? decoded : content;
        }
        catch (DecoderFallbackException)
        {
            return content;
        }
    }
}
