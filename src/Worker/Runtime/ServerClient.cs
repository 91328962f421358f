using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace NoEtl.Worker.Runtime;

/// <summary>A server reply: the status code and the JSON body when there is one (workers act on codes, not error bodies).</summary>
public readonly record struct ServerResponse(int Status, JsonNode? Body, TimeSpan? RetryAfter)
{
    public bool IsSuccess => Status is >= 200 and < 300;

    /// <summary>Overload and transient statuses that the NoETL contract says to retry (503 comes with Retry-After).</summary>
    public bool IsTransient => Status is 408 or 429 or >= 500;
}

/// <summary>
/// The worker's only path to the control plane: JSON over HTTP to <c>{NOETL_SERVER_URL}/api/...</c>, never to a URL
/// taken from a notification or a workload. Attaches <c>Authorization: Bearer NOETL_API_TOKEN</c> (the pool's own
/// token), else <c>NOETL_INTERNAL_API_TOKEN</c> as NoETL's newer workers do, to every call when a token is set
/// (newer NoETL workers do this so out-of-cluster workers can pass an auth proxy; the server gates only /api/internal/*).
/// </summary>
public sealed class ServerClient(HttpClient http, WorkerOptions options, ILogger<ServerClient> logger)
{
    /// <summary>The configured server's origin: the only place this client sends anything, tokens included.</summary>
    public Audience ControlPlane { get; } = Audience.OriginOf(options.ServerUrl);

    /// <summary>The tokens this client attaches, by env name; bound to <see cref="ControlPlane"/>.</summary>
    internal IEnumerable<KeyValuePair<string, string?>> Tokens =>
        [KeyValuePair.Create(WorkerOptions.InternalApiTokenVar, options.InternalApiToken), KeyValuePair.Create(WorkerOptions.ApiTokenVar, options.ApiToken)];

    /// <summary>Delays between attempts of <see cref="SendWithRetryAsync"/>; its length bounds the retries.</summary>
    public IReadOnlyList<TimeSpan> RetryDelays { get; init; } =
        [TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(15)];

    /// <summary>One attempt. Connection failures surface as <see cref="HttpRequestException"/>.</summary>
    public async Task<ServerResponse> SendAsync(HttpMethod method, string url, JsonNode? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, url);
        if (!ControlPlane.Allows(request.RequestUri!))
        {
            // Unreachable through Url(); a guard so no future code path can hand the worker's tokens to another host.
            throw new InvalidOperationException($"the server client only calls {ControlPlane}, not {Audience.Origin(request.RequestUri!)}");
        }
        // The internal API has its own gate and only the internal token opens it; the public API knows the pool's token.
        var token = new Uri(url).AbsolutePath.StartsWith("/api/internal/", StringComparison.Ordinal)
            ? options.InternalApiToken
            : options.ApiToken ?? options.InternalApiToken;
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(WorkerJson.Options), Encoding.UTF8, "application/json");
        }
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        JsonNode? parsed = null;
        if (!string.IsNullOrWhiteSpace(text))
        {
            try
            {
                parsed = JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                // Error bodies may be text/plain (PY middleware, RS); the status code carries the meaning.
            }
        }
        return new ServerResponse((int)response.StatusCode, parsed, RetryAfterOf(response));
    }

    /// <summary>
    /// Retries transient statuses and connection errors with bounded backoff (honouring Retry-After up to 30 s).
    /// Returns the last response; throws the last connection error if the server was never reached.
    /// </summary>
    public async Task<ServerResponse> SendWithRetryAsync(HttpMethod method, string url, JsonNode? body, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            TimeSpan? hint = null;
            try
            {
                var response = await SendAsync(method, url, body, ct);
                if (!response.IsTransient || attempt >= RetryDelays.Count)
                {
                    return response;
                }
                hint = response.RetryAfter;
                logger.LogWarning("{Method} {Path} returned {Status}; retry {Attempt}/{Max}", method, PathOf(url), response.Status, attempt + 1, RetryDelays.Count);
            }
            catch (HttpRequestException ex) when (attempt < RetryDelays.Count)
            {
                logger.LogWarning("{Method} {Path} failed ({Error}); retry {Attempt}/{Max}", method, PathOf(url), ex.Message, attempt + 1, RetryDelays.Count);
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested && attempt < RetryDelays.Count)
            {
                logger.LogWarning("{Method} {Path} timed out; retry {Attempt}/{Max}", method, PathOf(url), attempt + 1, RetryDelays.Count);
            }
            var delay = RetryDelays[attempt];
            if (hint is { } h && h > delay)
            {
                delay = h < TimeSpan.FromSeconds(30) ? h : TimeSpan.FromSeconds(30);
            }
            await Task.Delay(delay, ct);
        }
    }

    public Task<ServerResponse> PostAsync(string url, JsonNode? body, CancellationToken ct) => SendAsync(HttpMethod.Post, url, body, ct);

    public Task<ServerResponse> PostWithRetryAsync(string url, JsonNode? body, CancellationToken ct) => SendWithRetryAsync(HttpMethod.Post, url, body, ct);

    public Task<ServerResponse> GetWithRetryAsync(string url, CancellationToken ct) => SendWithRetryAsync(HttpMethod.Get, url, null, ct);

    /// <summary>Joins the configured server URL (NOETL_SERVER_URL) with an /api path.</summary>
    public string Url(string path) => $"{options.ServerUrl.TrimEnd('/')}{path}";

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is not { } retry)
        {
            return null;
        }
        if (retry.Delta is { } delta)
        {
            return delta;
        }
        return retry.Date is { } date ? date - DateTimeOffset.UtcNow : null;
    }

    // Logs carry the path only: query strings can hold execution ids of other tenants and URLs can embed credentials.
    private static string PathOf(string url) => Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.AbsolutePath : "?";
}
