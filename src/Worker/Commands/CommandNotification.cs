using System.Text.Json;
using System.Text.Json.Serialization;
using NATS.Client.Serializers.Json;
using NoEtl.Worker.Runtime;

namespace NoEtl.Worker.Commands;

/// <summary>
/// The NATS notification for one issued command: <c>{execution_id, event_id, command_id, step, server_url}</c>.
/// <c>command_id</c> is an int from the Python server and a string ("eid:step:event") from the Rust one.
/// <c>server_url</c> is read but never called: every callback goes to the configured NOETL_SERVER_URL.
/// </summary>
public sealed record CommandNotification(
    long ExecutionId,
    long EventId,
    [property: JsonConverter(typeof(IntOrStringConverter))] string? CommandId,
    string? Step,
    string? ServerUrl)
{
    public static readonly NatsJsonSerializer<CommandNotification> Serializer = new(WorkerJson.Options);

    /// <summary>Parses a raw payload; null when it is not a usable notification (then it must be terminated, not retried).</summary>
    public static CommandNotification? Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            var notification = JsonSerializer.Deserialize<CommandNotification>(json, WorkerJson.Options);
            return notification is { EventId: > 0 } ? notification : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
