using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace NoEtl.Worker.Runtime;

/// <summary>
/// The one JSON dialect of the NoETL wire: snake_case, nulls omitted, numbers readable from strings.
/// NATS.Net and System.Text.Json default to PascalCase, which silently reads snake_case payloads as 0/null,
/// so every (de)serialization in the worker goes through these options explicitly.
/// </summary>
public static class WorkerJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
    };

    /// <summary>Reads an id that servers send either as a JSON number or as a numeric string (PY vs RS dialects).</summary>
    public static long? ReadId(JsonNode? node)
    {
        if (node is not JsonValue value)
        {
            return null;
        }
        if (value.TryGetValue(out long number))
        {
            return number;
        }
        if (value.TryGetValue(out string? text) && long.TryParse(text, out var parsed))
        {
            return parsed;
        }
        return null;
    }

    /// <summary>A command id goes back to the server as a number when it is numeric (PY), else verbatim (RS "eid:step:event").</summary>
    public static JsonNode IdNode(string id) => long.TryParse(id, out var number) ? JsonValue.Create(number) : JsonValue.Create(id);

    public static string? ReadString(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonValue v => v.ToJsonString(),
        _ => null,
    };

    public static JsonObject ObjectOrEmpty(JsonNode? node) => node is JsonObject obj ? (JsonObject)obj.DeepClone() : new JsonObject();
}

/// <summary>Reads <c>command_id</c> as an int (PY server) or a string (RS server) into one string form.</summary>
public sealed class IntOrStringConverter : JsonConverter<string>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.Number => reader.TryGetInt64(out var n) ? n.ToString(System.Globalization.CultureInfo.InvariantCulture) : reader.GetDouble().ToString(System.Globalization.CultureInfo.InvariantCulture),
            JsonTokenType.String => reader.GetString(),
            JsonTokenType.Null => null,
            _ => throw new JsonException($"command_id must be a number or a string, got {reader.TokenType}"),
        };

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
