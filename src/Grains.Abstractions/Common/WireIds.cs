using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Grains;

/// <summary>NoETL ids on the wire: JSON numbers (Rust worker) or numeric strings (Python server).</summary>
public static class WireIds
{
    public static long? Read(JsonNode? node)
    {
        if (node is not JsonValue value)
            return null;
        // ToJsonString works for values parsed from text and for values built from any CLR number type.
        return value.GetValueKind() switch
        {
            JsonValueKind.Number => long.TryParse(value.ToJsonString(), out var number) ? number : null,
            JsonValueKind.String => long.TryParse(value.GetValue<string>(), out var parsed) ? parsed : null,
            _ => null,
        };
    }
}
