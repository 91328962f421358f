using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace NoEtl.Bench.Harness;

/// <summary>
/// Bearer tokens: the internal API's, an operator's (register, execute, cancel) and a worker pool's (claims, events)
/// for pool <c>shared</c>. Null operator/worker tokens send no header (a gateway with authentication disabled).
/// </summary>
public sealed record ApiTokens(string Internal, string? Operator, string? Worker);

/// <summary>A command the outbox announced: what a worker receives in a NATS notification.</summary>
public readonly record struct OutboxRow(long OutboxId, long EventId, long ExecutionId, string Step);

/// <summary>What <c>/diagnostics/memory</c> reports of the silo.</summary>
public readonly record struct SiloMemory(long ManagedBytes, long WorkingSetBytes, int ExecutionActivations);

/// <summary>What a worker needs from a claim response to report the run.</summary>
public readonly record struct Claimed(long ExecutionId, string Step, long CommandId);

/// <summary>
/// The worker and publisher side of the HTTP contract, kept lean: the bench shares two cores with the system
/// under test, so bodies are formatted as strings and responses read with <see cref="JsonDocument"/>.
/// </summary>
public sealed class NoEtlClient : IDisposable
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private readonly HttpClient _http;
    private readonly AuthenticationHeaderValue _internal;
    private readonly AuthenticationHeaderValue? _operator;
    private readonly AuthenticationHeaderValue? _worker;

    /// <summary>Who a request speaks for: the public API authenticates operators and worker pools apart.</summary>
    private enum Caller { Operator, Worker, Internal }

    public NoEtlClient(string baseUrl, ApiTokens tokens)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(60) };
        _internal = new AuthenticationHeaderValue("Bearer", tokens.Internal);
        _operator = tokens.Operator is null ? null : new AuthenticationHeaderValue("Bearer", tokens.Operator);
        _worker = tokens.Worker is null ? null : new AuthenticationHeaderValue("Bearer", tokens.Worker);
    }

    public void Dispose() => _http.Dispose();

    public async Task<long> RegisterAsync(string yaml)
    {
        var content = Convert.ToBase64String(Encoding.UTF8.GetBytes(yaml));
        var (status, body) = await PostAsync("/api/catalog/register", $$"""{"content":"{{content}}","resource_type":"Playbook"}""", Caller.Operator);
        Ensure(status, body, "register");
        using var json = JsonDocument.Parse(body);
        return long.Parse(json.RootElement.GetProperty("catalog_id").GetString()!);
    }

    /// <summary>Starts an execution; returns its id, or null with the status on failure.</summary>
    public async Task<(HttpStatusCode Status, long? ExecutionId, string Body)> ExecuteAsync(string path)
    {
        var (status, body) = await PostAsync("/api/execute", $$"""{"path":"{{path}}","workload":{},"resource_kind":"playbook"}""", Caller.Operator);
        if (status != HttpStatusCode.OK)
            return (status, null, body);
        using var json = JsonDocument.Parse(body);
        return (status, long.Parse(json.RootElement.GetProperty("execution_id").GetString()!), body);
    }

    public async Task<(HttpStatusCode Status, Claimed? Command, string Body)> ClaimAsync(long eventId, string workerId)
    {
        var (status, body) = await PostAsync($"/api/commands/{eventId}/claim", $$"""{"worker_id":"{{workerId}}"}""", Caller.Worker);
        if (status != HttpStatusCode.OK)
            return (status, null, body);
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        return (status, new Claimed(root.GetProperty("execution_id").GetInt64(), root.GetProperty("node_name").GetString()!,
            root.GetProperty("meta").GetProperty("command_id").GetInt64()), body);
    }

    /// <summary>One worker event (Python dialect); returns <c>commands_generated</c> on 200.</summary>
    public async Task<(HttpStatusCode Status, int Generated, string Body)> EventAsync(
        long executionId, string step, string name, string payloadJson, string workerId, bool actionable = true)
    {
        var (status, body) = await PostAsync("/api/events",
            $$"""{"execution_id":"{{executionId}}","step":"{{step}}","name":"{{name}}","payload":{{payloadJson}},"worker_id":"{{workerId}}","actionable":{{(actionable ? "true" : "false")}}}""", Caller.Worker);
        if (status != HttpStatusCode.OK)
            return (status, 0, body);
        using var json = JsonDocument.Parse(body);
        return (status, json.RootElement.GetProperty("commands_generated").GetInt32(), body);
    }

    /// <summary><c>/api/events/batch</c>: every event of the batch is committed in one transaction before the 202.</summary>
    public async Task<(HttpStatusCode Status, string Body)> EventBatchAsync(long executionId, string workerId, string eventsJson) =>
        await PostAsync("/api/events/batch", $$"""{"execution_id":"{{executionId}}","worker_id":"{{workerId}}","events":{{eventsJson}}}""", Caller.Worker);

    public async Task<(HttpStatusCode Status, string Body)> CancelAsync(long executionId) =>
        await PostAsync($"/api/executions/{executionId}/cancel", """{"reason":"benchmark scenario finished","cascade":false}""", Caller.Operator);

    public async Task<(HttpStatusCode Status, List<OutboxRow> Rows, string Body)> ClaimOutboxAsync(int limit, int waitMs)
    {
        var (status, body) = await PostAsync("/api/internal/outbox/claim", $$"""{"limit":{{limit}},"wait_ms":{{waitMs}}}""", Caller.Internal);
        var rows = new List<OutboxRow>();
        if (status != HttpStatusCode.OK)
            return (status, rows, body);
        using var json = JsonDocument.Parse(body);
        foreach (var row in json.RootElement.GetProperty("rows").EnumerateArray())
        {
            var payload = row.GetProperty("payload");
            rows.Add(new OutboxRow(row.GetProperty("outbox_id").GetInt64(), payload.GetProperty("event_id").GetInt64(),
                payload.GetProperty("execution_id").GetInt64(), payload.GetProperty("step").GetString()!));
        }
        return (status, rows, body);
    }

    /// <summary>The silo's managed heap after a forced full collection, its working set and the execution activations (<c>/diagnostics/memory</c>, operator token).</summary>
    public async Task<SiloMemory> SiloMemoryAsync(string siloUrl)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{siloUrl}/diagnostics/memory");
        request.Headers.Authorization = _operator;
        using var response = await _http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Ensure(response.StatusCode, body, "silo memory");
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        return new SiloMemory(root.GetProperty("managed_bytes").GetInt64(), root.GetProperty("working_set_bytes").GetInt64(),
            root.GetProperty("execution_activations").GetInt32());
    }

    /// <summary>Asks the silo to deactivate these executions' activations (<c>/diagnostics/deactivate</c>, operator token).</summary>
    public Task DeactivateAsync(string siloUrl, IEnumerable<long> executionIds) =>
        DeactivateAsync(siloUrl, $$"""{"execution_ids":[{{string.Join(',', executionIds)}}]}""");

    /// <summary>Asks the cluster to deactivate every active execution (<c>/diagnostics/deactivate</c>, operator token).</summary>
    public Task DeactivateAllAsync(string siloUrl) => DeactivateAsync(siloUrl, """{"all":true}""");

    private async Task DeactivateAsync(string siloUrl, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{siloUrl}/diagnostics/deactivate")
        {
            Content = new StringContent(body, Encoding.UTF8),
        };
        request.Content.Headers.ContentType = Json;
        request.Headers.Authorization = _operator;
        using var response = await _http.SendAsync(request);
        Ensure(response.StatusCode, await response.Content.ReadAsStringAsync(), "deactivate executions");
    }

    public async Task<(HttpStatusCode Status, string Body)> MarkPublishedAsync(IEnumerable<long> outboxIds) =>
        await PostAsync("/api/internal/outbox/mark-published", $$"""{"outbox_ids":[{{string.Join(',', outboxIds)}}]}""", Caller.Internal);

    /// <summary>A read of the UI/CLI routes (<c>/api/executions…</c>) as the operator.</summary>
    public async Task<(HttpStatusCode Status, string Body)> GetAsync(string pathAndQuery) =>
        await SendAsync(new HttpRequestMessage(HttpMethod.Get, pathAndQuery), Caller.Operator);

    private async Task<(HttpStatusCode Status, string Body)> PostAsync(string path, string json, Caller caller)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8) };
        request.Content.Headers.ContentType = Json;
        return await SendAsync(request, caller);
    }

    private async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpRequestMessage message, Caller caller)
    {
        using var request = message;
        request.Headers.Authorization = caller switch { Caller.Operator => _operator, Caller.Worker => _worker, _ => _internal };
        try
        {
            using var response = await _http.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            // Transport failures count as errors of the scenario, not crashes of the bench.
            return (0, e.Message);
        }
    }

    public static void Ensure(HttpStatusCode status, string body, string what)
    {
        if (status != HttpStatusCode.OK)
            throw new InvalidOperationException($"{what} failed: {(int)status} {body}");
    }
}
