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
/// </summary>
public sealed class HttpTool(HttpClient http, CredentialResolver credentials) : ITool
{
    public string Kind => "http";

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
        await ApplyAuthAsync(request, config["auth"], context, ct);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(config.Timeout(TimeSpan.FromSeconds(60)));
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, timeout.Token);
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

    private async Task ApplyAuthAsync(HttpRequestMessage request, JsonNode? auth, ToolContext context, CancellationToken ct)
    {
        switch (auth)
        {
            case null:
                return;
            case JsonValue alias:
                // A bare alias: whatever the credential holds decides bearer vs basic.
                var data = await credentials.ResolveAsync(ConfigExtensions.Text(alias), context.ExecutionId, ct);
                ApplyCredential(request, data);
                return;
            case JsonObject spec:
                var type = (spec.Str("type") ?? "bearer").ToLowerInvariant();
                JsonObject secretData;
                try
                {
                    secretData = spec.Str("credential") is { Length: > 0 } name
                        ? await credentials.ResolveAsync(name, context.ExecutionId, ct)
                        : spec;
                }
                catch (CredentialException e) when (e.NotFound)
                {
                    // A secret this worker is not given (e.g. the internal token on a user pool): call without it and
                    // let the server refuse (403), so the failure names the real reason, not a missing alias.
                    return;
                }
                if (type == "basic")
                {
                    SetBasic(request, secretData.Str("username") ?? secretData.Str("user"), secretData.Str("password"));
                }
                else if (type == "header")
                {
                    request.Headers.TryAddWithoutValidation(spec.Str("header") ?? spec.Str("name") ?? "Authorization",
                        CredentialResolver.TokenOf(secretData) ?? throw new ToolConfigException("auth header has no value"));
                }
                else
                {
                    var token = CredentialResolver.TokenOf(secretData) ?? throw new ToolConfigException("bearer auth has no token");
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                }
                return;
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
