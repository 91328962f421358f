using System.Text.Json.Nodes;

namespace NoEtl.Integration.Tests.Fuzz;

/// <summary>
/// One route and method of the gateway's OpenAPI document: its path template, query parameters and body fields, and
/// whether it documents 501 (a feature this server does not offer, answered so on purpose).
/// </summary>
public sealed record FuzzRoute(string Method, string Template, string[] Query, (string Name, string Type)[] Body, bool HasBody, bool NotOffered = false)
{
    public string Name => $"{Method} {Template}";

    public bool IsInternal => Template.StartsWith("/api/internal", StringComparison.Ordinal);

    public string[] PathParameters => [.. Template.Split('/').Where(s => s.StartsWith('{')).Select(s => s.Trim('{', '}'))];

    public static List<FuzzRoute> FromOpenApi(JsonNode document)
    {
        var routes = new List<FuzzRoute>();
        foreach (var (template, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                if (method is "parameters" or "summary" or "description" or "servers")
                    continue;
                var query = operation!["parameters"]?.AsArray().Where(p => (string?)p!["in"] == "query").Select(p => (string)p!["name"]!).ToArray() ?? [];
                var schema = Resolve(document, operation["requestBody"]?["content"]?["application/json"]?["schema"]);
                var body = schema?["properties"]?.AsObject().Select(p => (p.Key, TypeOf(p.Value))).ToArray() ?? [];
                routes.Add(new FuzzRoute(method.ToUpperInvariant(), template, query, body, schema is not null || method is "post" or "put" or "patch",
                    operation["responses"]?["501"] is not null));
            }
        }
        return routes;
    }

    /// <summary>A typed route's body schema is a <c>$ref</c> to the document's components.</summary>
    private static JsonNode? Resolve(JsonNode document, JsonNode? schema) =>
        schema?["$ref"] is JsonValue reference && ((string)reference!).Split('/') is ["#", "components", "schemas", var name]
            ? document["components"]?["schemas"]?[name]
            : schema;

    /// <summary>OpenAPI 3.1 writes a type as a string or a list of strings.</summary>
    private static string TypeOf(JsonNode? schema) => schema?["type"] switch
    {
        JsonArray types => types.Select(t => (string)t!).FirstOrDefault(t => t != "null") ?? "string",
        JsonValue type => (string)type!,
        _ => "string",
    };
}
