using System.Text.Json.Nodes;

namespace NoEtl.Cli.Tests;

/// <summary>
/// A scripted execution for the fake server: each read of the execution document reveals a few more events, the
/// way a real run grows, and the status turns terminal once all are visible. Answers as the server does: events newest
/// first, ids as strings; honours page, page_size and since_event_id.
/// </summary>
public sealed class FakeExecution(string executionId, string finalStatus, IReadOnlyList<JsonObject> events, int revealPerRead = 3)
{
    private int _visible;

    public static JsonObject Event(long id, string type, string? step, string status, double seconds, string? error = null) => new()
    {
        ["event_id"] = id.ToString(),
        ["event_type"] = type,
        ["node_name"] = step,
        ["status"] = status,
        ["created_at"] = new DateTime(2026, 1, 1, 12, 0, 0, DateTimeKind.Utc).AddSeconds(seconds).ToString("O"),
        ["error"] = error,
    };

    public string Status => _visible >= events.Count ? finalStatus : "RUNNING";

    public (int, string) Answer(RecordedRequest request)
    {
        if (request.Path == $"/api/executions/{executionId}/status")
            return (200, StatusDocument().ToJsonString());
        if (request.Path != $"/api/executions/{executionId}")
            return (404, """{"detail":"Execution not found"}""");

        _visible = Math.Min(events.Count, _visible + revealPerRead);
        var pageSize = int.Parse(request.Query["page_size"].FirstOrDefault() ?? "100");
        var pageNumber = int.Parse(request.Query["page"].FirstOrDefault() ?? "1");
        var since = long.TryParse(request.Query["since_event_id"].FirstOrDefault(), out var s) ? s : 0;
        var newer = events.Take(_visible).Where(e => long.Parse(e["event_id"]!.GetValue<string>()) > since).Reverse().ToList();
        var page = new JsonArray([.. newer.Skip((pageNumber - 1) * pageSize).Take(pageSize).Select(e => e.DeepClone())]);
        var document = StatusDocument();
        document["events"] = page;
        document["pagination"] = new JsonObject
        {
            ["page"] = pageNumber,
            ["page_size"] = pageSize,
            ["total_events"] = newer.Count,
            ["has_next"] = newer.Count > pageNumber * pageSize,
        };
        return (200, document.ToJsonString());
    }

    private JsonObject StatusDocument() => new()
    {
        ["execution_id"] = executionId,
        ["path"] = "examples/hello",
        ["status"] = Status,
        ["completed"] = Status != "RUNNING",
        ["failed"] = Status == "FAILED",
        ["duration_human"] = "1.5s",
    };
}
