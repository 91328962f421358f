using System.Text.Json.Nodes;

namespace NoEtl.Worker.Runtime;

/// <summary>A resolved credential: its secret data and the origins it may be sent to.</summary>
public sealed record Credential(string Name, JsonObject Data, Audience Audience);

/// <summary>
/// Resolves a credential alias to its secret data: the worker keychain first (env allow-list), then
/// <c>GET /api/credentials/{name}?include_data=true&amp;execution_id=</c> on the configured server.
/// The control plane's tokens are bound to the configured server; a server credential is bound to the
/// <c>allowed_hosts</c> in its data when it declares them (the field itself is removed from the data).
/// </summary>
public sealed class CredentialResolver(ServerClient server, WorkerKeychain keychain)
{
    private static readonly string[] TokenFields = ["token", "access_token", "bearer", "api_key", "value", "secret"];
    private static readonly string[] ServerTokenNames = [WorkerOptions.InternalApiTokenVar, WorkerOptions.ApiTokenVar];

    /// <summary>The origin the server tokens are bound to.</summary>
    public Audience ControlPlane => server.ControlPlane;

    /// <summary>The control plane's tokens wherever this worker holds them (its server client or its keychain), by env name.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ServerTokens { get; } = server.Tokens
        .Concat(ServerTokenNames.Select(name => KeyValuePair.Create(name, keychain.TryGet(name, out var value) ? value : null)))
        .Where(p => !string.IsNullOrEmpty(p.Value))
        .Select(p => KeyValuePair.Create(p.Key, p.Value!))
        .Distinct()
        .ToList();

    /// <summary>The credential's <c>data</c> object. A keychain hit becomes <c>{"token": value, "value": value}</c>.</summary>
    public async Task<Credential> ResolveAsync(string name, long executionId, CancellationToken ct)
    {
        if (keychain.TryGet(name, out var secret))
        {
            var bound = ServerTokenNames.Contains(name) ? server.ControlPlane : Audience.Anywhere;
            return new Credential(name, new JsonObject { ["token"] = secret, ["value"] = secret }, bound);
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
        if (response.Body?["data"] is not JsonObject found)
        {
            throw new CredentialException($"credential '{name}' has no data");
        }
        var data = (JsonObject)found.DeepClone();
        var audience = data.TryGetPropertyValue("allowed_hosts", out var hosts) && hosts is not null ? Audience.AllowedHosts(name, hosts) : Audience.Anywhere;
        data.Remove("allowed_hosts");
        return new Credential(name, data, audience);
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
