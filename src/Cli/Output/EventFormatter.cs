using System.Globalization;
using System.Text.Json.Nodes;

namespace NoEtl.Cli.Output;

/// <summary>One event per line, columns aligned for reading: time (UTC), type, step, status.</summary>
public static class EventFormatter
{
    public static string Format(JsonObject e)
    {
        var time = Json.Time(e["created_at"] ?? e["timestamp"]) is { } t
            ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture)
            : Json.Text(e["created_at"]) ?? "-";
        var type = Json.Text(e["event_type"]) ?? "-";
        var step = Json.Text(e["node_name"]) ?? "-";
        var status = Json.Text(e["status"]) ?? "-";
        var line = $"{time}  {type,-22} {step,-24} {status}";
        return ErrorOf(e) is { } error ? $"{line}  {error}" : line;
    }

    /// <summary>The error text of a failure event, shortened to one line: the column, else the result's error.</summary>
    public static string? ErrorOf(JsonObject e)
    {
        var error = Json.Text(e["error"]) ?? Json.Text(e["result"]?["error"]) ?? Json.Text(e["result"]?["context"]?["error"]);
        if (string.IsNullOrWhiteSpace(error))
            return null;
        error = error.ReplaceLineEndings(" ").Trim();
        return error.Length <= 200 ? error : error[..200] + "…";
    }
}
