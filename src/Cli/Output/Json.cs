using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Cli.Output;

/// <summary>Lenient reads: NoETL sends ids as numbers in some routes and as strings in others.</summary>
public static class Json
{
    public static string? Text(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() is JsonValueKind.Null => null,
        _ => node.ToJsonString(),
    };

    public static long? Long(JsonNode? node) => long.TryParse(Text(node), out var value) ? value : null;

    public static bool Bool(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.True;

    public static DateTimeOffset? Time(JsonNode? node) =>
        DateTimeOffset.TryParse(Text(node), System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal, out var time) ? time : null;
}
