using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NoEtl.Worker.Runtime;

namespace NoEtl.Worker.Tools;

/// <summary>
/// <c>kind: http</c>: method, url, params, headers, json | body | data, timeout, auth.
/// Returns {status, headers, data}. Status ≥ 400 is an error outcome that keeps the response, so task policies
/// can retry on 5xx or continue on 404. Uses its own HttpClient: the worker's server token never leaks to tool URLs.
/// A credential goes only to the origins it is bound to (<see cref="Audience"/>); a request that would carry one
/// anywhere else is refused before anything is sent, on the first request and on every redirect hop.
/// </summary>
public sealed class HttpTool(HttpClient http, CredentialResolver credentials) : ITool
{
    private const int MaxRedirects = 10;

    public string Kind => "http";

    /// <summary>The tool's client. It follows redirects itself so that each hop passes the audience check.</summary>
    public static HttpClient CreateClient() =>
        new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };

    public async Task<ToolOutcome> ExecuteAsync(JsonObject config, ToolContext context, CancellationToken ct)
    {
        var method = new HttpMethod((config.Str("method") ?? "GET").ToUpperInvariant());
        using var request = new HttpRequestMessage(method, BuildUrl(config.RequiredStr("url", Kind), config["params"] as JsonObject));
        if (config["headers"] is JsonObject headers)
        {
            foreach (var (name, value) in headers)
            {
                if (!name.Equals("content-type", StringComparison.OrdinalIgnoreCase))
                {
                    request.Headers.TryAddWithoutValidation(name, ConfigExtensions.Text(value));
                }
            }
        }
        request.Content = BuildContent(config);
        if (request.Content is not null && config["headers"] is JsonObject h &&
            h.FirstOrDefault(p => p.Key.Equals("content-type", StringComparison.OrdinalIgnoreCase)).Value is { } contentType)
        {
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(ConfigExtensions.Text(contentType));
        }
        var auth = await ApplyAuthAsync(request, config["auth"], context, ct);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(config.Timeout(TimeSpan.FromSeconds(60)));
        HttpResponseMessage response;
        try
        {
            response = await SendAsync(request, auth, Strings(config).ToList(), timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return ToolOutcome.Failure($"http {method} timed out", kind: "timeout", retryable: true);
        }
        catch (HttpRequestException ex)
        {
            return ToolOutcome.Failure($"http {method} failed: {ex.Message}", kind: "connection", retryable: true);
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            var responseHeaders = new JsonObject();
            foreach (var header in response.Headers.Concat(response.Content.Headers))
            {
                responseHeaders[header.Key.ToLowerInvariant()] = string.Join(", ", header.Value);
            }
            var data = await ReadBodyAsync(response, ct);
            var result = new JsonObject
            {
                ["status"] = status,
                ["headers"] = responseHeaders.DeepClone(),
                ["data"] = data,
            };
            var httpView = new JsonObject { ["status"] = status, ["headers"] = responseHeaders };
            return status < 400
                ? ToolOutcome.Success(result, httpView)
                : ToolOutcome.Failure($"http {method} returned {status}", result, kind: "http", retryable: status is 408 or 429 or >= 500,
                    code: status.ToString(System.Globalization.CultureInfo.InvariantCulture), http: httpView);
        }
    }

    /// <summary>Sends and follows redirects; a hop to another origin drops the credential headers.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage first, AppliedAuth? auth, List<string> configTexts, CancellationToken ct)
    {
        var request = first;
        try
        {
            for (var hop = 0; ; hop++)
            {
                await EnsureAudienceAsync(request, auth, configTexts, ct);
                var response = await http.SendAsync(request, ct);
                if (hop == MaxRedirects || RedirectTarget(response) is not { } target)
                {
                    return response;
                }
                response.Dispose();
                string[] drop = [];
                if (Audience.Origin(request.RequestUri!) != Audience.Origin(target))
                {
                    // Like .NET's own handler for Authorization, and also for a custom auth header (which .NET forwards).
                    drop = ["Authorization", auth?.Header ?? "Authorization"];
                    auth = null;
                }
                var next = Redirected(request, target, (int)response.StatusCode, drop);
                if (!ReferenceEquals(request, first))
                {
                    request.Dispose();
                }
                request = next;
            }
        }
        finally
        {
            if (!ReferenceEquals(request, first))
            {
                request.Dispose();
            }
        }
    }

    /// <summary>
    /// Throws unless every credential in <paramref name="request"/> may go to its origin: the auth credential's own
    /// audience, and (anywhere but the control plane) no trace of the server tokens in the rendered config, which
    /// sees values before basic-auth or query encoding, or in the request's URL, headers and body.
    /// </summary>
    private async Task EnsureAudienceAsync(HttpRequestMessage request, AppliedAuth? auth, List<string> configTexts, CancellationToken ct)
    {
        var uri = request.RequestUri!;
        if (auth?.Credential is { } credential && !credential.Audience.Allows(uri))
        {
            throw Refused(credential.Name, credential.Audience, uri);
        }
        if (credentials.ServerTokens.Count == 0 || credentials.ControlPlane.Allows(uri))
        {
            return;
        }
        var texts = new List<string>(configTexts) { uri.AbsoluteUri };
        texts.AddRange(request.Headers.SelectMany(h => h.Value));
        if (request.Content is not null)
        {
            texts.AddRange(request.Content.Headers.SelectMany(h => h.Value));
            texts.Add(await request.Content.ReadAsStringAsync(ct));
        }
        foreach (var (name, token) in credentials.ServerTokens)
        {
            var escaped = Uri.EscapeDataString(token);
            if (texts.Any(t => t.Contains(token, StringComparison.Ordinal) || t.Contains(escaped, StringComparison.Ordinal)))
            {
                throw Refused(name, credentials.ControlPlane, uri);
            }
        }
    }

    private static CredentialException Refused(string name, Audience audience, Uri uri) =>
        new($"credential '{name}' is bound to {audience} and is not sent to {Audience.Origin(uri)}");

    private static IEnumerable<string> Strings(JsonNode? node) => node switch
    {
        JsonObject obj => obj.SelectMany(p => Strings(p.Value)),
        JsonArray arr => arr.SelectMany(Strings),
        JsonValue v when v.TryGetValue(out string? s) => [s],
        _ => [],
    };

    private static Uri? RedirectTarget(HttpResponseMessage response)
    {
        if ((int)response.StatusCode is not (301 or 302 or 303 or 307 or 308) || response.Headers.Location is not { } location)
        {
            return null;
        }
        var from = response.RequestMessage!.RequestUri!;
        var target = location.IsAbsoluteUri ? location : new Uri(from, location);
        // Like .NET's own redirect handler: no other schemes and no https → http; the 3xx is then the result.
        return target.Scheme == Uri.UriSchemeHttps || (target.Scheme == Uri.UriSchemeHttp && from.Scheme == Uri.UriSchemeHttp) ? target : null;
    }

    /// <summary>The next hop: 303, and 301/302 after a POST, become a body-less GET (as browsers do); 307/308 keep both.</summary>
    private static HttpRequestMessage Redirected(HttpRequestMessage previous, Uri target, int status, string[] dropHeaders)
    {
        var toGet = (status == 303 && previous.Method != HttpMethod.Head) || (status is 301 or 302 && previous.Method == HttpMethod.Post);
        var next = new HttpRequestMessage(toGet ? HttpMethod.Get : previous.Method, target);
        foreach (var (name, values) in previous.Headers)
        {
            if (!dropHeaders.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                next.Headers.TryAddWithoutValidation(name, values);
            }
        }
        if (!toGet)
        {
            next.Content = previous.Content;
            previous.Content = null;
        }
        return next;
    }

    private static string BuildUrl(string url, JsonObject? parameters)
    {
        if (parameters is null || parameters.Count == 0)
        {
            return url;
        }
        var query = string.Join("&", parameters
            .Where(p => p.Value is not null)
            .SelectMany(p => p.Value is JsonArray values ? values.Select(v => (p.Key, v)) : [(p.Key, p.Value)])
            .Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(ConfigExtensions.Text(p.Item2))}"));
        return url + (url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + query;
    }

    private static HttpContent? BuildContent(JsonObject config)
    {
        if (config.TryGetPropertyValue("json", out var json) && json is not null)
        {
            return new StringContent(json.ToJsonString(), Encoding.UTF8, "application/json");
        }
        var body = config["body"] ?? config["data"];
        return body switch
        {
            null => null,
            JsonObject or JsonArray => new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
            _ => new StringContent(ConfigExtensions.Text(body), Encoding.UTF8, "text/plain"),
        };
    }

    /// <summary>The header an <c>auth</c> block set and the credential behind it (none for inline secrets).</summary>
    private sealed record AppliedAuth(string Header, Credential? Credential);

    private async Task<AppliedAuth?> ApplyAuthAsync(HttpRequestMessage request, JsonNode? auth, ToolContext context, CancellationToken ct)
    {
        switch (auth)
        {
            case null:
                return null;
            case JsonValue alias:
                // A bare alias: whatever the credential holds decides bearer vs basic.
                var credential = await credentials.ResolveAsync(ConfigExtensions.Text(alias), context.ExecutionId, ct);
                ApplyCredential(request, credential.Data);
                return new AppliedAuth("Authorization", credential);
            case JsonObject spec:
                var type = (spec.Str("type") ?? "bearer").ToLowerInvariant();
                Credential? resolved;
                try
                {
                    resolved = spec.Str("credential") is { Length: > 0 } name ? await credentials.ResolveAsync(name, context.ExecutionId, ct) : null;
                }
                catch (CredentialException e) when (e.NotFound)
                {
                    // A secret this worker is not given (e.g. the internal token on a user pool): call without it and
                    // let the server refuse (403), so the failure names the real reason, not a missing alias.
                    return null;
                }
                var secretData = resolved?.Data ?? spec;
                var header = type == "header" ? spec.Str("header") ?? spec.Str("name") ?? "Authorization" : "Authorization";
                if (type == "basic")
                {
                    SetBasic(request, secretData.Str("username") ?? secretData.Str("user"), secretData.Str("password"));
                }
                else if (type == "header")
                {
                    request.Headers.TryAddWithoutValidation(header, CredentialResolver.TokenOf(secretData) ?? throw new ToolConfigException("auth header has no value"));
                }
                else
                {
                    var token = CredentialResolver.TokenOf(secretData) ?? throw new ToolConfigException("bearer auth has no token");
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                }
                return new AppliedAuth(header, resolved);
            default:
                throw new ToolConfigException("http auth must be an alias string or an object");
        }
    }

    private static void ApplyCredential(HttpRequestMessage request, JsonObject data)
    {
        if (CredentialResolver.TokenOf(data) is { } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        else
        {
            SetBasic(request, data.Str("username") ?? data.Str("user"), data.Str("password"));
        }
    }

    private static void SetBasic(HttpRequestMessage request, string? user, string? password)
    {
        if (user is null)
        {
            throw new ToolConfigException("basic auth needs a username");
        }
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
    }

    private static async Task<JsonNode?> ReadBodyAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        if (text.Length == 0)
        {
            return null;
        }
        var mediaType = response.Content.Headers.ContentType?.MediaType ?? "";
        var looksJson = mediaType.Contains("json", StringComparison.OrdinalIgnoreCase) || text.TrimStart() is ['{', ..] or ['[', ..];
        if (looksJson)
        {
            try
            {
                return JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                // Mislabelled body: keep it as text.
            }
        }
        return JsonValue.Create(text);
    }
}
