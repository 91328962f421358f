using NoEtl.ApiGateway.Auth;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NoEtl.ApiGateway.Credentials;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Keychain;

/// <summary>
/// NoETL's keychain routes (noetl-api.md §1.2 (26)). <c>/api/keychain/catalog/{catalog_id}</c> is a literal route,
/// so it wins over <c>/{catalog_id}/{keychain_name}</c> here (NoETL's Python server shadows it with a 422).
/// </summary>
public static class KeychainEndpoints
{
    public static void MapKeychainEndpoints(this IEndpointRouteBuilder app)
    {
        var keychain = app.MapGroup("/api/keychain");

        keychain.MapGet("/catalog/{catalogId}", (string catalogId, IGrainFactory grains) =>
            long.TryParse(catalogId, out var id)
                ? grains.Reference<IKeychainGrain>(0).ListCatalog(id).ToHttp()
                : Task.FromResult(PathIdProblem())).ForWorkers();

        keychain.MapGet("/{catalogId}/{keychainName}", (string catalogId, string keychainName, HttpRequest request, IGrainFactory grains) =>
            Located(catalogId, request, (id, scope, executionId) =>
                grains.Reference<IKeychainGrain>(0).Get(id, keychainName, scope, executionId).ToHttp())).ForWorkers();

        keychain.MapDelete("/{catalogId}/{keychainName}", (string catalogId, string keychainName, HttpRequest request, IGrainFactory grains) =>
            Located(catalogId, request, (id, scope, executionId) =>
                grains.Reference<IKeychainGrain>(0).Delete(id, keychainName, scope, executionId).ToHttp())).ForAnyPrincipal();

        keychain.MapPost("/{catalogId}/{keychainName}", async (string catalogId, string keychainName, HttpRequest request, IGrainFactory grains) =>
        {
            if (!long.TryParse(catalogId, out var id))
                return PathIdProblem();
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var tokenData = CredentialEndpoints.SecretObject(body, "token_data");
            var credentialType = body.RequiredString("credential_type");
            var cacheType = body.String("cache_type") ?? "secret";
            if (cacheType is not ("secret" or "token"))
                body.Add("literal_error", "cache_type", "Input should be 'token' or 'secret'");
            var scope = ParseScope(body.String("scope_type") ?? "global");
            if (scope is null)
                body.Add("literal_error", "scope_type", "Input should be 'local', 'global' or 'shared'");
            var executionId = body.Id("execution_id");
            var parentExecutionId = body.Id("parent_execution_id");
            if (scope is KeychainScope.Local or KeychainScope.Shared && executionId is null)
                body.Add("missing", "execution_id", "execution_id is required for a local or shared entry");
            var ttl = body.Int("ttl_seconds", 1, int.MaxValue);
            var expiresAt = ExpiresAt(body);
            var autoRenew = body.Bool("auto_renew", false);
            var renewConfig = body.Object("renew_config");
            if (body.HasErrors)
                return body.Errors();
            var input = new KeychainEntryInput(tokenData!.ToJsonString(), credentialType, cacheType, scope!.Value, executionId, parentExecutionId,
                ttl, expiresAt, autoRenew, renewConfig?.ToJsonString());
            return await grains.Reference<IKeychainGrain>(0).Put(id, keychainName, input).ToHttp();
        }).ForWorkers();
    }

    /// <summary>The catalog id from the path and the scope and execution from the query, or the 422 that explains which is wrong.</summary>
    private static Task<IResult> Located(string catalogId, HttpRequest request, Func<long, KeychainScope, long?, Task<IResult>> call)
    {
        if (!long.TryParse(catalogId, out var id))
            return Task.FromResult(PathIdProblem());
        var scopeText = request.Query["scope_type"].ToString();
        if (ParseScope(string.IsNullOrEmpty(scopeText) ? "global" : scopeText) is not { } scope)
            return Task.FromResult(RequestBody.Problem("literal_error", ["query", "scope_type"], "Input should be 'local', 'global' or 'shared'"));
        if (!CredentialEndpoints.TryQueryId(request.Query["execution_id"], out var executionId))
            return Task.FromResult(CredentialEndpoints.IdProblem("execution_id"));
        if (scope is KeychainScope.Local or KeychainScope.Shared && executionId is null)
            return Task.FromResult(RequestBody.Problem("missing", ["query", "execution_id"], "execution_id is required for a local or shared entry"));
        return call(id, scope, executionId);
    }

    private static KeychainScope? ParseScope(string text) => text switch
    {
        "local" => KeychainScope.Local,
        "global" => KeychainScope.Global,
        "shared" => KeychainScope.Shared,
        _ => null,
    };

    private static DateTimeOffset? ExpiresAt(RequestBody body)
    {
        if (body.Fields["expires_at"] is not { } node)
            return null;
        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.String
            && DateTimeOffset.TryParse(value.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            return parsed;
        body.Add("datetime_parsing", "expires_at", "Input should be an ISO 8601 date-time");
        return null;
    }

    private static IResult PathIdProblem() =>
        RequestBody.Problem("int_parsing", ["path", "catalog_id"], "Input should be a valid integer");
}
