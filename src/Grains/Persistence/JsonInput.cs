using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Grains.Persistence;

/// <summary>JSON documents that arrive as text (a workload, a worker's payload, a runtime's meta), read into nodes.</summary>
public static class JsonInput
{
    public static JsonObject? ParseObject(string? json) =>
        string.IsNullOrEmpty(json) ? null : JsonNode.Parse(json) as JsonObject;

    /// <summary>The document, or null when the text is empty or not JSON.</summary>
    public static JsonNode? ParseOrNull(string? json)
    {
        if (string.IsNullOrEmpty(json))
            return null;
        try { return JsonNode.Parse(json); }
        catch (JsonException) { return null; }
    }
}
