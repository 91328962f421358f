using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace NoEtl.ApiGateway.Telemetry;

/// <summary>
/// Completes the generated OpenAPI document with what the handlers cannot declare: the feature tags, operation ids
/// and the <c>{"detail": ...}</c> error shape, from the route alone. Request bodies come from the routes' typed
/// records (<c>JsonBody&lt;T&gt;</c>).
/// </summary>
public static class ContractOpenApi
{
    public static OpenApiOptions AddContractShapes(this OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "NoETL control plane";
            document.Info.Description = "NoETL's server API (noetl-api.md) served by the Orleans gateway.";
            // A catch-all route cannot end in a literal: the UI schema route is mapped as its prefix and documented whole.
            if (document.Paths.Remove("/api/catalog/{path}", out var uiSchema))
                document.Paths["/api/catalog/{path}/ui_schema"] = uiSchema;
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var route = context.Description.RelativePath ?? "";
            var method = context.Description.HttpMethod ?? "GET";
            // One tag per feature folder instead of the generator's assembly/class names.
            operation.Tags = new HashSet<OpenApiTagReference> { new(Feature(route), context.Document) };
            operation.OperationId ??= method.ToLowerInvariant() + "_" + string.Concat(route.Split('/', '-', '{', '}').Where(s => s.Length > 0).Select(s => "_" + s)).TrimStart('_');
            operation.Responses ??= [];
            operation.Responses.TryAdd("200", new OpenApiResponse
            {
                Description = "OK",
                Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.Object } } },
            });
            operation.Responses.TryAdd("4XX", new OpenApiResponse
            {
                Description = "FastAPI-style error: {\"detail\": ..., \"error\": \"<the detail as text>\"}; bad input is 422",
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new()
                    {
                        Schema = Object(["detail", "error"], [("detail", JsonSchemaType.Object | JsonSchemaType.String | JsonSchemaType.Array), ("error", JsonSchemaType.String)]),
                    },
                },
            });
            return Task.CompletedTask;
        });
        return options;
    }

    /// <summary>The feature folder a route belongs to: <c>api/worker/pool/register</c> → <c>worker</c>.</summary>
    private static string Feature(string route)
    {
        var segments = route.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return segments switch
        {
            ["api", "internal", ..] => "internal",
            ["api", var feature, ..] => feature,
            [var first, ..] => first,
            _ => "root",
        };
    }

    private static OpenApiSchema Object(string[] required, (string Name, JsonSchemaType Type)[] properties) => new()
    {
        Type = JsonSchemaType.Object,
        Required = new HashSet<string>(required),
        Properties = properties.ToDictionary(p => p.Name, p => (IOpenApiSchema)new OpenApiSchema { Type = p.Type }),
    };
}
