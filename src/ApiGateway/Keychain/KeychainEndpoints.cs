using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Keychain;

/// <summary>An entry posted to <c>POST /api/keychain/{catalog_id}/{keychain_name}</c>.</summary>
public sealed record KeychainEntryRequest(
    [property: SecretDocument] JsonObject TokenData,
    [property: Required] string CredentialType,
    [property: OneOf("Input should be 'token' or 'secret'", "secret", "token")] string? CacheType,
    [property: OneOf(KeychainEndpoints.ScopeMessage, "local", "global", "shared")] string? ScopeType,
    long? ExecutionId,
    long? ParentExecutionId,
    [property: Range(1, int.MaxValue)] int? TtlSeconds,
    [property: IsoDateTime] string? ExpiresAt,
    bool? AutoRenew,
    JsonObject? RenewConfig) : IRequestRules<KeychainEntryRequest>
{
    public static void Check(RequestBody body)
    {
        if (body.Raw("scope_type") is JsonValue scope && scope.TryGetValue<string>(out var text) && text is "local" or "shared"
            && WireIds.Read(body.Raw("execution_id")) is null)
            body.Add("missing", "execution_id", "execution_id is required for a local or shared entry");
    }

    public KeychainEntryInput ToGrain() => new(TokenData.ToJsonString(), CredentialType, CacheType ?? "secret",
        KeychainEndpoints.ParseScope(ScopeType ?? "global")!.Value, ExecutionId, ParentExecutionId, TtlSeconds,
        RequestBody.ParseTimestamp(ExpiresAt), AutoRenew ?? false, RenewConfig?.ToJsonString());
}

/// <summary>Where an entry is read or deleted: <c>scope_type</c> (default <c>global</c>) and the execution it belongs to.</summary>
public sealed record KeychainLocation(
    [property: FromQuery(Name = "scope_type")] string? ScopeType,
    [property: FromQuery(Name = "execution_id")] string? ExecutionId);

/// <summary>
/// NoETL's keychain routes (noetl-api.md §1.2 (26)). <c>/api/keychain/catalog/{catalog_id}</c> is a literal route,
/// so it wins over <c>/{catalog_id}/{keychain_name}</c> here (NoETL's Python server shadows it with a 422).
/// </summary>
public static class KeychainEndpoints
{
    public const string ScopeMessage = "Input should be 'local', 'global' or 'shared'";

    public static void MapKeychainEndpoints(this IEndpointRouteBuilder app)
    {
        var keychain = app.MapGroup("/api/keychain");
        keychain.MapGet("/catalog/{catalogId}", ListCatalog).ForWorkers();
        keychain.MapGet("/{catalogId}/{keychainName}", Get).ForWorkers();
        keychain.MapDelete("/{catalogId}/{keychainName}", Delete).ForAnyPrincipal();
        keychain.MapPost("/{catalogId}/{keychainName}", Put).ForWorkers();
    }

    private static async Task<Results<Ok<KeychainCatalog>, UnprocessableEntity<ValidationErrors>, ForbiddenError, UnavailableError>> ListCatalog(
        string catalogId, IGrainFactory grains)
    {
        if (!long.TryParse(catalogId, out var id))
            return PathIdProblem();
        var outcome = await grains.Reference<IKeychainGrain>(0).ListCatalog(id);
        return outcome switch
        {
            { Value: { } entries } => TypedResults.Ok(entries),
            { Failure: { Kind: FailureKind.Forbidden } failure } => ContractResults.Forbidden(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<KeychainEntryRead>, Ok<KeychainMiss>, UnprocessableEntity<ValidationErrors>, ForbiddenError, Conflict<ErrorBody>, UnavailableError>> Get(
        string catalogId, string keychainName, [AsParameters] KeychainLocation location, IGrainFactory grains)
    {
        var (problem, (id, scope, executionId)) = Locate(catalogId, location);
        if (problem is not null)
            return problem;
        var outcome = await grains.Reference<IKeychainGrain>(0).Get(id, keychainName, scope, executionId);
        return outcome switch
        {
            { Value.Found: { } found } => TypedResults.Ok(found),
            { Value.Missing: { } missing } => TypedResults.Ok(missing),
            { Failure: { Kind: FailureKind.Invalid } failure } => ContractResults.Invalid(failure),
            { Failure: { Kind: FailureKind.Forbidden } failure } => ContractResults.Forbidden(failure),
            { Failure: { Kind: FailureKind.Conflict } failure } => ContractResults.Conflict(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<KeychainDeleted>, UnprocessableEntity<ValidationErrors>, ForbiddenError, UnavailableError>> Delete(
        string catalogId, string keychainName, [AsParameters] KeychainLocation location, IGrainFactory grains)
    {
        var (problem, (id, scope, executionId)) = Locate(catalogId, location);
        if (problem is not null)
            return problem;
        var outcome = await grains.Reference<IKeychainGrain>(0).Delete(id, keychainName, scope, executionId);
        return outcome switch
        {
            { Value: { } deleted } => TypedResults.Ok(deleted),
            { Failure: { Kind: FailureKind.Invalid } failure } => ContractResults.Invalid(failure),
            { Failure: { Kind: FailureKind.Forbidden } failure } => ContractResults.Forbidden(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<KeychainStored>, UnprocessableEntity<ValidationErrors>, NotFound<ErrorBody>, ForbiddenError, UnavailableError>> Put(
        string catalogId, string keychainName, JsonBody<KeychainEntryRequest> body, IGrainFactory grains)
    {
        if (!long.TryParse(catalogId, out var id))
            return PathIdProblem();
        var outcome = await grains.Reference<IKeychainGrain>(0).Put(id, keychainName, body.Value.ToGrain());
        return outcome switch
        {
            { Value: { } stored } => TypedResults.Ok(stored),
            { Failure: { Kind: FailureKind.Invalid } failure } => ContractResults.Invalid(failure),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            { Failure: { Kind: FailureKind.Forbidden } failure } => ContractResults.Forbidden(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    /// <summary>The catalog id from the path and the scope and execution from the query, or the 422 that explains which is wrong.</summary>
    private static (UnprocessableEntity<ValidationErrors>? Problem, (long CatalogId, KeychainScope Scope, long? ExecutionId) Place) Locate(
        string catalogId, KeychainLocation location)
    {
        if (!long.TryParse(catalogId, out var id))
            return (PathIdProblem(), default);
        if (ParseScope(string.IsNullOrEmpty(location.ScopeType) ? "global" : location.ScopeType) is not { } scope)
            return (ContractResults.FieldProblem("literal_error", ["query", "scope_type"], ScopeMessage), default);
        if (!QueryIds.TryRead(location.ExecutionId, out var executionId))
            return (QueryIds.Problem("execution_id"), default);
        if (scope is KeychainScope.Local or KeychainScope.Shared && executionId is null)
            return (ContractResults.FieldProblem("missing", ["query", "execution_id"], "execution_id is required for a local or shared entry"), default);
        return (null, (id, scope, executionId));
    }

    internal static KeychainScope? ParseScope(string text) => text switch
    {
        "local" => KeychainScope.Local,
        "global" => KeychainScope.Global,
        "shared" => KeychainScope.Shared,
        _ => null,
    };

    private static UnprocessableEntity<ValidationErrors> PathIdProblem() =>
        ContractResults.FieldProblem("int_parsing", ["path", "catalog_id"], "Input should be a valid integer");
}
