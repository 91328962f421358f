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
/// taken from a notification or a workload. NOETL_SERVER_URL may list several servers (gateways of one cluster); calls go
/// to the preferred one, and a connection failure, timeout or 5xx moves the preference to the next (sticky: it stays
/// there until that one fails too). Idempotent calls (claims, events: the server de-duplicates both) are sent again
/// to the next server at once; other calls only leave the preference moved for the next one. Attaches <c>Authorization: Bearer NOETL_API_TOKEN</c> (the pool's own
/// token), else <c>NOETL_INTERNAL_API_TOKEN</c> as NoETL's newer workers do, to every call when a token is set
/// (newer NoETL workers do this so out-of-cluster workers can pass an auth proxy; the server gates only /api/internal/*).
/// </summary>
public sealed class ServerClient(HttpClient http, WorkerOptions options, ILogger<ServerClient> logger)
{
    /// <summary>The configured servers' origins: the only places this client sends anything, tokens included.</summary>
    public Audience ControlPlane { get; } = Audience.OriginsOf(options.ServerUrls);

    private int _preferred;

    /// <summary>The tokens this client attaches, by env name; bound to <see cref="ControlPlane"/>.</summary>
    internal IEnumerable<KeyValuePair<string, string?>> Tokens =>
        [KeyValuePair.Create(WorkerOptions.InternalApiTokenVar, options.InternalApiToken), KeyValuePair.Create(WorkerOptions.ApiTokenVar, options.ApiToken)];

    /// <summary>Delays between attempts of <see cref="SendWithRetryAsync"/>; its length bounds the retries.</summary>
    public IReadOnlyList<TimeSpan> RetryDelays { get; init; } =
        [TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(15)];

    /// <summary>
    /// One attempt. Connection failures surface as <see cref="HttpRequestException"/>; they, timeouts and 5xx move the
    /// preference to the next server.
    /// </summary>
    public async Task<ServerResponse> SendAsync(HttpMethod method, string url, JsonNode? body, CancellationToken ct)
    {
        try
        {
            var response = await SendOnceAsync(method, url, body, ct);
            if (response.Status >= 500)
                FailedOn(url);
            return response;
        }
        catch (Exception e) when (e is HttpRequestException || e is TaskCanceledException && !ct.IsCancellationRequested)
        {
            FailedOn(url);
            throw;
        }
    }

    /// <summary>
    /// An idempotent call: sent again at once to each next server while the previous one fails (connection, timeout,
    /// 5xx). Answers the first other response, or the last failure once every server was tried.
    /// </summary>
    public async Task<ServerResponse> SendIdempotentAsync(HttpMethod method, string url, JsonNode? body, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var response = await SendAsync(method, url, body, ct);
                if (response.Status < 500 || attempt >= options.ServerUrls.Count)
                    return response;
            }
            catch (Exception e) when (attempt < options.ServerUrls.Count && (e is HttpRequestException || e is TaskCanceledException && !ct.IsCancellationRequested))
            {
                logger.LogWarning("{Method} {Path} failed on {Server} ({Error}); trying the next server", method, PathOf(url), Audience.Origin(new Uri(url)), e.Message);
            }
            url = OnPreferred(url);
        }
    }

    private async Task<ServerResponse> SendOnceAsync(HttpMethod method, string url, JsonNode? body, CancellationToken ct)
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
            url = OnPreferred(url);
        }
    }

    public Task<ServerResponse> PostAsync(string url, JsonNode? body, CancellationToken ct) => SendAsync(HttpMethod.Post, url, body, ct);

    public Task<ServerResponse> PostWithRetryAsync(string url, JsonNode? body, CancellationToken ct) => SendWithRetryAsync(HttpMethod.Post, url, body, ct);

    public Task<ServerResponse> GetWithRetryAsync(string url, CancellationToken ct) => SendWithRetryAsync(HttpMethod.Get, url, null, ct);

    /// <summary>Joins the preferred server URL (of NOETL_SERVER_URL) with an /api path.</summary>
    public string Url(string path) => $"{Preferred}{path}";

    private string Preferred => options.ServerUrls[Volatile.Read(ref _preferred)];

    /// <summary>The server <paramref name="url"/> went to failed: prefer the next one, unless another call moved on already.</summary>
    private void FailedOn(string url)
    {
        var current = Volatile.Read(ref _preferred);
        if (options.ServerUrls.Count < 2 || !url.StartsWith(options.ServerUrls[current] + "/", StringComparison.Ordinal))
            return;
        var next = (current + 1) % options.ServerUrls.Count;
        if (Interlocked.CompareExchange(ref _preferred, next, current) == current)
            logger.LogWarning("Server {Failed} failed; calls go to {Next} from now on", options.ServerUrls[current], options.ServerUrls[next]);
    }

    /// <summary><paramref name="url"/> (built by <see cref="Url"/> on some configured server) moved to the preferred server.</summary>
    private string OnPreferred(string url)
    {
        foreach (var server in options.ServerUrls)
        {
            if (url.StartsWith(server + "/", StringComparison.Ordinal))
                return Preferred + url[server.Length..];
        }
        return url;
    }

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
