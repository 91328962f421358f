using System.Text.Json.Nodes;

namespace NoEtl.Worker.Runtime;

/// <summary>
/// Resolves a credential alias to its secret data: the worker keychain first (env allow-list), then
/// <c>GET /api/credentials/{name}?include_data=true&amp;execution_id=</c> on the configured server.
/// </summary>
public sealed class CredentialResolver(ServerClient server, WorkerKeychain keychain)
{
    private static readonly string[] TokenFields = ["token", "access_token", "bearer", "api_key", "value", "secret"];

    /// <summary>The credential's <c>data</c> object. A keychain hit becomes <c>{"token": value, "value": value}</c>.</summary>
    public async Task<JsonObject> ResolveAsync(string name, long executionId, CancellationToken ct)
    {
        if (keychain.TryGet(name, out var secret))
        {
            return new JsonObject { ["token"] = secret, ["value"] = secret };
        }
        var url = server.Url($"/api/credentials/{Uri.EscapeDataString(name)}?include_data=true&execution_id={executionId}");
        var response = await server.GetWithRetryAsync(url, ct);
        if (response.Status == 404)
        {
            throw new CredentialException($"credential '{name}' not found", notFound: true);
        }
        if (!response.IsSuccess)
        {
            throw new CredentialException($"credential '{name}' lookup failed with HTTP {response.Status}");
        }
        return response.Body?["data"] as JsonObject is { } data
            ? (JsonObject)data.DeepClone()
            : throw new CredentialException($"credential '{name}' has no data");
    }

    /// <summary>The bearer token inside a credential's data, whatever the field is called.</summary>
    public static string? TokenOf(JsonObject data) =>
        TokenFields.Select(key => data[key] is JsonValue v && v.TryGetValue(out string? s) ? s : null)
            .FirstOrDefault(s => !string.IsNullOrEmpty(s));
}

public sealed class CredentialException(string message, bool notFound = false) : Exception(message)
{
    /// <summary>Neither this worker's keychain nor the server knows the alias (as opposed to a failed lookup).</summary>
    public bool NotFound { get; } = notFound;
}
