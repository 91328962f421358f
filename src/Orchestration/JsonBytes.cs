using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Orchestration;

/// <summary>JSON kept as UTF-8 instead of a node tree: a fraction of the memory for data that is read rarely.</summary>
public static class JsonBytes
{
    public static byte[] Of(JsonNode? node)
    {
        if (node is null)
            return "null"u8.ToArray();
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
            node.WriteTo(writer);
        return buffer.WrittenSpan.ToArray();
    }
}
