using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Cli.Http;

/// <summary>The CLI's only way to the server: NoETL's HTTP contract, JSON in and out.</summary>
public sealed class NoEtlClient(HttpClient http)
{
    public Uri Server => http.BaseAddress!;

    public static NoEtlClient Create(Uri server, string? token)
    {
        var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(60) };
        if (!string.IsNullOrEmpty(token))
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new NoEtlClient(http);
    }

    public Task<JsonNode> GetAsync(string pathAndQuery, CancellationToken cancel) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, pathAndQuery), cancel);

    public Task<JsonNode> PostAsync(string path, JsonNode body, CancellationToken cancel) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) }, cancel);

    private async Task<JsonNode> SendAsync(HttpRequestMessage request, CancellationToken cancel)
    {
        using (request)
        {
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, cancel);
            }
            catch (HttpRequestException e)
            {
                throw new ServerUnreachableException(Server, e.InnerException?.Message ?? e.Message);
            }
            catch (TaskCanceledException) when (!cancel.IsCancellationRequested)
            {
                throw new ServerUnreachableException(Server, $"no answer within {http.Timeout.TotalSeconds:0}s");
            }

            using (response)
            {
                var body = await response.Content.ReadAsStringAsync(cancel);
                if (!response.IsSuccessStatusCode)
                    throw new ApiException((int)response.StatusCode, response.ReasonPhrase ?? "", ErrorDetail.Describe(body));
                try
                {
                    return JsonNode.Parse(body) ?? throw new JsonException("null document");
                }
                catch (JsonException)
                {
                    throw new ApiException((int)response.StatusCode, response.ReasonPhrase ?? "",
                        $"expected a JSON document from {request.RequestUri}, got: {ErrorDetail.Describe(body)}");
                }
            }
        }
    }
}
