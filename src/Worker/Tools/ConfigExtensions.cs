using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Worker.Tools;

/// <summary>Lenient readers for tool config fields, which templates may have typed as strings or numbers.</summary>
internal static class ConfigExtensions
{
    public static string? Str(this JsonObject config, string key) => config[key] switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v => v.ToJsonString(),
        _ => null,
    };

    public static string RequiredStr(this JsonObject config, string key, string kind) =>
        config.Str(key) is { Length: > 0 } value ? value : throw new ToolConfigException($"{kind} tool requires '{key}'");

    public static double? Number(this JsonObject config, string key) => config[key] switch
    {
        JsonValue v when v.TryGetValue(out double d) => d,
        JsonValue v when v.TryGetValue(out long l) => l,
        JsonValue v when v.TryGetValue(out string? s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var p) => p,
        _ => null,
    };

    public static bool Flag(this JsonObject config, string key) => config[key] switch
    {
        JsonValue v when v.TryGetValue(out bool b) => b,
        JsonValue v when v.TryGetValue(out string? s) => s.Trim().ToLowerInvariant() is "true" or "1" or "yes" or "on",
        JsonValue v when v.TryGetValue(out long l) => l != 0,
        _ => false,
    };

    public static TimeSpan Timeout(this JsonObject config, TimeSpan fallback) =>
        config.Number("timeout") is { } seconds && seconds > 0 ? TimeSpan.FromSeconds(seconds) : fallback;

    public static string Text(JsonNode? node) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        null => "",
        _ => node.ToJsonString(),
    };
}
