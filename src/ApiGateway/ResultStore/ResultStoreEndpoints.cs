using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.ResultStore;

/// <summary>
/// A result as put to <c>PUT /api/result/{execution_id}</c>: <c>data</c> is any JSON value (null included) and must be
/// sent. <c>compress</c> is accepted and checked; results are stored as jsonb, whose compression is PostgreSQL's (TOAST).
/// </summary>
public sealed record ResultRequest(
    [property: Required] string Name,
    [property: AnyJson] JsonText? Data,
    string? Scope,
    string? Store,
    string? Ttl,
    string? SourceStep,
    bool? Compress,
    [property: AnyJson] JsonText? Correlation,
    [property: AnyJson] JsonText? Extracted) : IRequestRules<ResultRequest>
{
    public static void Check(RequestBody body)
    {
        if (body.Raw("name") is JsonValue name && name.TryGetValue<string>(out var text) && ResultStoreEndpoints.NameProblem(text) is { } problem)
            body.Add("value_error", "name", problem);
        if (!body.Fields.ContainsKey("data"))
            body.Add("missing", "data", "Field required");
    }
}

/// <summary>
/// NoETL's result store (noetl-api.md §1.1 (12/13)): workers put <c>call.done</c> results too large to inline and
/// reference them by the returned <c>ref</c>; workers and operators read them back. The execution's grain owns the
/// rows; this only validates. A bad scope, store tier or ttl is 400 as in NoETL, other field errors 422.
/// </summary>
public static partial class ResultStoreEndpoints
{
    public const int MaxNameLength = 255;

    private static readonly HashSet<string> Scopes = ["step", "execution", "workflow", "permanent"];

    // NoETL's tiers are accepted (every result is kept in PostgreSQL and reported as "postgres").
    private static readonly HashSet<string> StoreTiers = ["memory", "kv", "disk", "object", "s3", "gcs", "db", "duckdb", "eventlog", "postgres"];

    public static void MapResultStoreEndpoints(this IEndpointRouteBuilder app)
    {
        var results = app.MapGroup("/api/result");
        results.MapPut("/{execution_id}", Store).ForWorkers();
        results.MapGet("/resolve", Resolve).ForAnyPrincipal();
        results.MapGet("/{execution_id}/{name}", Read).ForAnyPrincipal();
    }

    private static async Task<Results<Ok<StoredResult>, BadRequest<ErrorBody>, NotFound<ErrorBody>, ForbiddenError, UnprocessableEntity<ValidationErrors>, TooLargeError>> Store(
        string execution_id, JsonBody<ResultRequest> body, IGrainFactory grains)
    {
        if (!long.TryParse(execution_id, out var executionId))
            return ExecutionIdProblem();
        var request = body.Value;
        var scope = request.Scope ?? "execution";
        if (!Scopes.Contains(scope))
            return BadRequest($"Invalid scope '{scope}'; expected one of: {string.Join(", ", Scopes)}");
        if (request.Store is { } store && !StoreTiers.Contains(store))
            return BadRequest($"Invalid store tier '{store}'; expected one of: {string.Join(", ", StoreTiers)}");
        if (!TryParseTtl(request.Ttl, out var ttlSeconds, out var forever))
            return BadRequest($"Invalid ttl '{request.Ttl}'; expected a duration such as '30s', '30m', '1h', '7d', or 'forever'");
        var input = new ResultInput(request.Name, request.Data?.Json ?? "null", scope, request.SourceStep, request.Correlation?.Json,
            request.Extracted?.Json, ttlSeconds, forever);
        var outcome = await grains.Reference<IExecutionGrain>(executionId).StoreResult(input);
        return outcome switch
        {
            { Value: { } stored } => TypedResults.Ok(stored),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            { Failure: { Kind: FailureKind.Forbidden } failure } => ContractResults.Forbidden(failure),
            { Failure: { Kind: FailureKind.TooLarge } failure } => ContractResults.TooLarge(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<ResultView>, NotFound<ErrorBody>, ForbiddenError, UnprocessableEntity<ValidationErrors>>> Resolve(
        string? @ref, IGrainFactory grains)
    {
        if (@ref is null || ReferencePattern().Match(@ref) is not { Success: true } match || !long.TryParse(match.Groups[1].Value, out var executionId))
            return ContractResults.FieldProblem("value_error", ["query", "ref"], "ref must look like noetl://execution/<execution_id>/result/<name>/<id>");
        return ReadAnswer(await grains.Reference<IExecutionGrain>(executionId).ReadResult(null, @ref));
    }

    private static async Task<Results<Ok<ResultView>, NotFound<ErrorBody>, ForbiddenError, UnprocessableEntity<ValidationErrors>>> Read(
        string execution_id, string name, IGrainFactory grains)
    {
        if (!long.TryParse(execution_id, out var executionId))
            return ExecutionIdProblem();
        if (NameProblem(name) is { } problem)
            return ContractResults.FieldProblem("value_error", ["path", "name"], problem);
        return ReadAnswer(await grains.Reference<IExecutionGrain>(executionId).ReadResult(name, null));
    }

    private static Results<Ok<ResultView>, NotFound<ErrorBody>, ForbiddenError, UnprocessableEntity<ValidationErrors>> ReadAnswer(Outcome<ResultView> outcome) => outcome switch
    {
        { Value: { } result } => TypedResults.Ok(result),
        { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
        { Failure: { Kind: FailureKind.Forbidden } failure } => ContractResults.Forbidden(failure),
        _ => throw ContractResults.Undeclared(outcome.Failure),
    };

    /// <summary>A name is part of the ref and of a route: one path segment of printable characters.</summary>
    internal static string? NameProblem(string name) =>
        name.Length > MaxNameLength ? $"name must have at most {MaxNameLength} characters"
        : name.Any(char.IsControl) ? "name must not contain control characters"
        : name.Contains('/') ? "name must not contain '/'"
        : null;

    /// <summary><c>30s</c>, <c>30m</c>, <c>1h</c>, <c>7d</c> or plain seconds; <c>forever</c> never expires; none means the store's default.</summary>
    private static bool TryParseTtl(string? text, out int? seconds, out bool forever)
    {
        seconds = null;
        forever = text is "forever" or "never" or "permanent";
        if (text is null || forever)
            return true;
        var match = TtlPattern().Match(text);
        if (!match.Success || !long.TryParse(match.Groups[1].Value, out var amount))
            return false;
        var total = amount * match.Groups[2].Value switch { "m" => 60L, "h" => 3600L, "d" => 86400L, _ => 1L };
        if (total is <= 0 or > int.MaxValue)
            return false;
        seconds = (int)total;
        return true;
    }

    private static BadRequest<ErrorBody> BadRequest(string message) => TypedResults.BadRequest(new ErrorBody(JsonValue.Create(message)));

    private static UnprocessableEntity<ValidationErrors> ExecutionIdProblem() =>
        ContractResults.FieldProblem("int_parsing", ["path", "execution_id"], "execution_id must be an integer");

    [GeneratedRegex(@"^(\d{1,12})\s*(s|m|h|d)?$")]
    private static partial Regex TtlPattern();

    [GeneratedRegex(@"^noetl://execution/(\d{1,19})/result/[^/]+/[^/]+$")]
    private static partial Regex ReferencePattern();
}
