using System.Text.Json;
using System.Text.Json.Serialization;

namespace NoEtl.ApiGateway.Http;

/// <summary>
/// NoETL's ids in request records: JSON numbers (the Rust worker) or numeric strings (the Python server and the GUI).
/// Put on a request record's id property; answers keep their own per-field form (<c>JsonNumberHandling.WriteAsString</c>
/// where NoETL answers strings).
/// </summary>
public sealed class LenientIdConverter : JsonConverter<long>
{
    public override long Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var number))
            return number;
        // The same reading as WireIds (the strict reader's check), so a body that passed validation always binds.
        if (reader.TokenType == JsonTokenType.String && long.TryParse(reader.GetString(), out var parsed))
            return parsed;
        throw new JsonException("Input should be an integer id (number or numeric string)");
    }

    public override void Write(Utf8JsonWriter writer, long value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
}
