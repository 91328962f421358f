using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace NoEtl.Integration.Tests.Infrastructure;

public sealed record ApiResponse(HttpStatusCode Status, JsonNode? Body, string Text, HttpResponseMessage Raw)
{
    public JsonNode Json => Body ?? throw new InvalidOperationException($"not JSON ({(int)Status}): {Text}");
}

/// <summary>The worker and CLI side of the contract, spoken over plain HTTP as a NoETL worker would.</summary>
public static class Api
{
    public static async Task<ApiResponse> Send(this HttpClient http, HttpMethod method, string path, object? body = null, string? rawBody = null,
        string? bearer = null, IDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path);
        var content = rawBody ?? (body is null ? null : body is JsonNode node ? node.ToJsonString() : System.Text.Json.JsonSerializer.Serialize(body));
        if (content is not null)
            request.Content = new StringContent(content, Encoding.UTF8, "application/json");
        if (bearer == "")
            request.Options.Set(RoleAwareTokens.Anonymous, true);
        else if (bearer is not null)
            request.Headers.TryAddWithoutValidation("Authorization", bearer);
        foreach (var (key, value) in headers ?? new Dictionary<string, string>())
            request.Headers.TryAddWithoutValidation(key, value);
        var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? json = null;
        try { json = text.Length > 0 ? JsonNode.Parse(text) : null; }
        catch (System.Text.Json.JsonException) { }
        return new ApiResponse(response.StatusCode, json, text, response);
    }

    public static Task<ApiResponse> Post(this HttpClient http, string path, object? body = null) => http.Send(HttpMethod.Post, path, body);

    public static Task<ApiResponse> Get(this HttpClient http, string path) => http.Send(HttpMethod.Get, path);

    public static async Task<(long CatalogId, int Version)> Register(this HttpClient http, string yaml, bool base64 = true)
    {
        var content = base64 ? Convert.ToBase64String(Encoding.UTF8.GetBytes(yaml)) : yaml;
        var response = await http.Post("/api/catalog/register", new { content, resource_type = "Playbook" });
        Assert.True(response.Status == HttpStatusCode.OK, $"register failed: {(int)response.Status} {response.Text}");
        return (long.Parse(response.Json["catalog_id"]!.GetValue<string>()), response.Json["version"]!.GetValue<int>());
    }

    public static async Task<long> Execute(this HttpClient http, string path, object? workload = null)
    {
        var response = await http.Post("/api/execute", new { path, workload = workload ?? new { }, resource_kind = "playbook" });
        Assert.True(response.Status == HttpStatusCode.OK, $"execute failed: {(int)response.Status} {response.Text}");
        return long.Parse(response.Json["execution_id"]!.GetValue<string>());
    }

    public static Task<ApiResponse> Claim(this HttpClient http, long eventId, string workerId) =>
        http.Post($"/api/commands/{eventId}/claim", new { worker_id = workerId });

    /// <summary>Posts one event in the Python dialect (<c>name/payload</c>, string execution id).</summary>
    public static Task<ApiResponse> Event(this HttpClient http, long executionId, string step, string name, JsonObject payload, string workerId,
        JsonObject? meta = null) =>
        http.Post("/api/events", new JsonObject
        {
            ["execution_id"] = executionId.ToString(),
            ["step"] = step,
            ["name"] = name,
            ["payload"] = payload,
            ["meta"] = meta?.DeepClone(),
            ["worker_id"] = workerId,
        });

    public static async Task<JsonNode> Status(this HttpClient http, long executionId)
    {
        var response = await http.Get($"/api/executions/{executionId}/status");
        Assert.True(response.Status == HttpStatusCode.OK, $"status failed: {(int)response.Status} {response.Text}");
        return response.Json;
    }

    /// <summary>The newest 500 events of an execution, in log order (the route answers newest first).</summary>
    public static async Task<JsonArray> Events(this HttpClient http, long executionId)
    {
        var response = await http.Get($"/api/executions/{executionId}?page_size=500");
        Assert.True(response.Status == HttpStatusCode.OK, $"detail failed: {(int)response.Status} {response.Text}");
        return new JsonArray([.. response.Json["events"]!.AsArray().Reverse().Select(e => e?.DeepClone())]);
    }

    /// <summary>Claims and marks published every claimable outbox row, as a publisher that keeps up would.</summary>
    public static async Task DrainOutboxAsync(this HttpClient http)
    {
        const string bearer = "Bearer " + NoEtlSystem.InternalToken;
        while (true)
        {
            var claimed = await http.Send(HttpMethod.Post, "/api/internal/outbox/claim", new { limit = 1000 }, bearer: bearer);
            var ids = claimed.Json["rows"]!.AsArray().Select(r => r!["outbox_id"]!.GetValue<long>()).ToList();
            if (ids.Count == 0)
                return;
            await http.Send(HttpMethod.Post, "/api/internal/outbox/mark-published", new { outbox_ids = ids }, bearer: bearer);
        }
    }

    /// <summary>A snowflake id as the read routes send it (a string) or the worker routes do (a number).</summary>
    public static long Id(this JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text)
        ? long.Parse(text)
        : node!.GetValue<long>();
}
