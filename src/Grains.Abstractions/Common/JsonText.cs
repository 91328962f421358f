using System.Text.Json;
using System.Text.Json.Serialization;

namespace NoEtl.Grains;

/// <summary>
/// An opaque JSON document crossing the grain boundary as text (labels, a runtime's meta, an audit detail): stored
/// and answered as it is, written into a response as the JSON value itself, never as a string.
/// </summary>
[GenerateSerializer, Immutable, Alias("noetl.JsonText")]
[JsonConverter(typeof(JsonTextConverter))]
public sealed record JsonText([property: Id(0)] string Json)
{
    public static JsonText? From(string? json) => json is null ? null : new JsonText(json);
}

public sealed class JsonTextConverter : JsonConverter<JsonText>
{
    public override JsonText Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return new JsonText(document.RootElement.GetRawText());
    }

    public override void Write(Utf8JsonWriter writer, JsonText value, JsonSerializerOptions options) => writer.WriteRawValue(value.Json);
}
