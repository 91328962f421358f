using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Cli.Http;

/// <summary>
/// Turns an error body into one readable line. NoETL servers answer in several shapes: <c>{"detail": "text"}</c>,
/// <c>{"detail": {"code", "message"}}</c> (overload contract), FastAPI's <c>{"detail": [{"loc", "msg"}]}</c>,
/// the Rust port's <c>{"error": "text"}</c>, or plain text from middleware.
/// </summary>
public static class ErrorDetail
{
    private const int MaxTextLength = 500;

    public static string Describe(string body)
    {
        JsonNode? document;
        try
        {
            document = JsonNode.Parse(body);
        }
        catch (JsonException)
        {
            return PlainText(body);
        }
        return document switch
        {
            JsonObject o when o["detail"] is { } detail => DescribeDetail(detail),
            JsonObject o when o["error"] is JsonValue error => error.ToString(),
            null => "(empty response)",
            _ => PlainText(document.ToJsonString()),
        };
    }

    private static string DescribeDetail(JsonNode detail) => detail switch
    {
        JsonValue value => value.ToString(),
        JsonArray errors => string.Join("; ", errors.Select(DescribeFieldError)),
        JsonObject o when o["message"] is JsonValue message =>
            o["code"] is JsonValue code ? $"{message} ({code})" : message.ToString(),
        _ => detail.ToJsonString(),
    };

    private static string DescribeFieldError(JsonNode? error)
    {
        if (error is not JsonObject o)
            return error?.ToJsonString() ?? "null";
        var message = o["msg"]?.ToString() ?? o.ToJsonString();
        return o["loc"] is JsonArray loc && loc.Count > 0 ? $"{string.Join('.', loc.Select(p => p?.ToString()))}: {message}" : message;
    }

    private static string PlainText(string body)
    {
        var text = body.Trim().ReplaceLineEndings(" ");
        if (text.Length == 0)
            return "(empty response)";
        return text.Length <= MaxTextLength ? text : text[..MaxTextLength] + "…";
    }
}
