using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Configuration;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Credentials;

/// <summary>A credential as posted to <c>POST /api/credentials</c> (<c>credential_type</c> is NoETL's other name for <c>type</c>).</summary>
public sealed record CredentialRequest(
    [property: Required] string Name,
    [property: AlsoNamed("credential_type")] string? Type,
    [property: SecretDocument] JsonObject Data,
    JsonObject? Meta,
    string[]? Tags,
    [property: FreeText] string? Description)
{
    public CredentialInput ToGrain() => new(Name, Type ?? "generic", Data.ToJsonString(), Meta?.ToJsonString(), Tags, Description);
}

/// <summary>The query of <c>GET /api/credentials/{id|name}</c>, read as text to answer NoETL's 422s.</summary>
public sealed record CredentialReadQuery(
    [property: FromQuery(Name = "include_data")] string? IncludeData,
    [property: FromQuery(Name = "catalog_id")] string? CatalogId,
    [property: FromQuery(Name = "execution_id")] string? ExecutionId,
    [property: FromQuery(Name = "parent_execution_id")] string? ParentExecutionId);

/// <summary>
/// NoETL's credential routes (noetl-api.md §1.1 (10), §1.2 (11)) and the token-gated key rotation.
/// Bodies are validated here so that nothing is stored from bad input; secret data is never logged.
/// </summary>
public static class CredentialEndpoints
{
    public static void MapCredentialEndpoints(this IEndpointRouteBuilder app)
    {
        var credentials = app.MapGroup("/api/credentials");
        var operatorSecretRead = ConfigurationValues.Bool(app.ServiceProvider.GetRequiredService<IConfiguration>(), OperatorSecretReadSetting, true);
        credentials.MapPost("", Upsert).ForOperators();
        credentials.MapGet("", List).ForAnyPrincipal();
        credentials.MapGet("/{identifier}", (string identifier, [AsParameters] CredentialReadQuery query, HttpContext http, IGrainFactory grains) =>
            Get(identifier, query, http, grains, operatorSecretRead)).ForAnyPrincipal();
        credentials.MapDelete("/{identifier}", Delete).ForOperators();
    }

    /// <summary>The system pool's re-encryption of every credential under the current key: an internal-API route.</summary>
    public static void MapCredentialRotationEndpoints(this IEndpointRouteBuilder app) =>
        app.MapPost("/api/internal/credentials/rotate", Rotate);

    private static async Task<Results<Ok<CredentialView>, UnprocessableEntity<ValidationErrors>, UnavailableError>> Upsert(
        JsonBody<CredentialRequest> body, IGrainFactory grains)
    {
        var outcome = await grains.Reference<ICredentialGrain>(0).Upsert(body.Value.ToGrain());
        return outcome switch
        {
            { Value: { } credential } => TypedResults.Ok(credential),
            { Failure: { Kind: FailureKind.Invalid } failure } => ContractResults.Invalid(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<CredentialList>, UnavailableError>> List(IGrainFactory grains, string? type, string? q)
    {
        var outcome = await grains.Reference<ICredentialGrain>(0).List(NullIfEmpty(type), NullIfEmpty(q));
        return outcome switch
        {
            { Value: { } credentials } => TypedResults.Ok(credentials),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<CredentialView>, UnprocessableEntity<ValidationErrors>, NotFound<ErrorBody>, ForbiddenError, Conflict<ErrorBody>, UnavailableError>> Get(
        string identifier, CredentialReadQuery query, HttpContext http, IGrainFactory grains, bool operatorSecretRead)
    {
        if (!TryQueryBool(query.IncludeData, out var includeData))
            return ContractResults.FieldProblem("bool_parsing", ["query", "include_data"], "Input should be a valid boolean");
        if (!QueryIds.TryRead(query.CatalogId, out var catalogId))
            return QueryIds.Problem("catalog_id");
        if (!QueryIds.TryRead(query.ExecutionId, out var executionId))
            return QueryIds.Problem("execution_id");
        if (!QueryIds.TryRead(query.ParentExecutionId, out var parentExecutionId))
            return QueryIds.Problem("parent_execution_id");
        if (includeData && http.Items[ApiAuthentication.CallerItem] is Caller caller && SecretReadRefusal(caller, executionId, operatorSecretRead) is { } refusal)
        {
            grains.Reference<IAuditGrain>(0).Record(new AuditEntry(caller.Principal, caller.Role, "credential.read", caller.Route,
                identifier, executionId, "forbidden", null)).Ignore();
            return new ForbiddenError(new ErrorBody(JsonValue.Create(refusal)));
        }
        var outcome = await grains.Reference<ICredentialGrain>(0).Get(identifier, new CredentialRead(includeData, catalogId, executionId, parentExecutionId));
        return outcome switch
        {
            { Value: { } credential } => TypedResults.Ok(credential),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            { Failure: { Kind: FailureKind.Forbidden } failure } => ContractResults.Forbidden(failure),
            { Failure: { Kind: FailureKind.Conflict } failure } => ContractResults.Conflict(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<CredentialDeleted>, NotFound<ErrorBody>, UnavailableError>> Delete(string identifier, IGrainFactory grains)
    {
        var outcome = await grains.Reference<ICredentialGrain>(0).Delete(identifier);
        return outcome switch
        {
            { Value: { } deleted } => TypedResults.Ok(deleted),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<CredentialRotation>, UnavailableError>> Rotate(IGrainFactory grains)
    {
        var outcome = await grains.Reference<ICredentialGrain>(0).Rotate();
        return outcome switch
        {
            { Value: { } rotation } => TypedResults.Ok(rotation),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    /// <summary><c>false</c>: operators (the GUI's Secrets page, the CLI) see credential metadata only.</summary>
    public const string OperatorSecretReadSetting = "NOETL_OPERATOR_SECRET_READ";

    /// <summary>
    /// Who may read plaintext: a worker for an execution (the grain checks that it exists and is of the worker's pool),
    /// never on its own (a stolen worker token does not list the store's secrets); an operator unless
    /// <see cref="OperatorSecretReadSetting"/> is false. Every read and refusal is audited as <c>credential.read</c>.
    /// </summary>
    private static string? SecretReadRefusal(Caller caller, long? executionId, bool operatorSecretRead) => caller.Role switch
    {
        Caller.WorkerRole when executionId is null =>
            "Workers read secret data for an execution of their pool only: pass execution_id.",
        Caller.OperatorRole when !operatorSecretRead =>
            $"Secret data is not served to operators on this server ({OperatorSecretReadSetting}=false).",
        _ => null,
    };

    internal static bool TryQueryBool(string? text, out bool value)
    {
        value = false;
        switch (text?.Trim().ToLowerInvariant())
        {
            case null or "":
            case "false" or "0" or "no" or "off" or "f" or "n":
                return true;
            case "true" or "1" or "yes" or "on" or "t" or "y":
                value = true;
                return true;
            default:
                return false;
        }
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;
}
