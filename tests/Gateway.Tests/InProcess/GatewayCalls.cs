using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace NoEtl.Gateway.Tests.InProcess;

/// <summary>A response read once: status, headers and the JSON body (null when the body is not JSON).</summary>
public sealed record GatewayAnswer(HttpStatusCode Status, HttpResponseHeaders Headers, string Text)
{
    public JsonNode? Json { get; } = Parse(Text);

    private static JsonNode? Parse(string text)
    {
        try { return JsonNode.Parse(text); }
        catch (System.Text.Json.JsonException) { return null; }
    }
}

public static class GatewayCalls
{
    /// <summary>Sends <paramref name="body"/> (JSON text, or none) with <paramref name="authorization"/> as the header value, if any.</summary>
    public static async Task<GatewayAnswer> SendAsync(this HttpClient client, string method, string path, string? body = null, string? authorization = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        if (authorization is not null)
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        using var response = await client.SendAsync(request);
        return new GatewayAnswer(response.StatusCode, response.Headers, await response.Content.ReadAsStringAsync());
    }

    public static string Bearer(string token) => "Bearer " + token;

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds, or fails after <paramref name="timeout"/> (30 s by default)
    /// with what <paramref name="seen"/> tells of the last state.
    /// </summary>
    public static async Task WaitForAsync(Func<Task<bool>> condition, string what, Func<string>? seen = null, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"timed out waiting for {what}; last seen:\n{seen?.Invoke()}");
            await Task.Delay(100);
        }
    }
}
