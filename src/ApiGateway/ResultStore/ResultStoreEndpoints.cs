using System.Text.RegularExpressions;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.ResultStore;

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

        results.MapPut("/{execution_id}", async (string execution_id, HttpRequest request, IGrainFactory grains) =>
        {
            if (!long.TryParse(execution_id, out var executionId))
                return ExecutionIdProblem();
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var name = body.RequiredString("name");
            if (NameProblem(name) is { } problem)
                body.Add("value_error", "name", problem);
            if (!body.Fields.ContainsKey("data"))
                body.Add("missing", "data", "Field required");
            var scope = body.String("scope") ?? "execution";
            var store = body.String("store");
            var ttl = body.String("ttl");
            var sourceStep = body.String("source_step");
            body.Bool("compress", false); // results are stored as jsonb; compression is PostgreSQL's (TOAST)
            if (body.HasErrors)
                return body.Errors();
            if (!Scopes.Contains(scope))
                return BadRequest($"Invalid scope '{scope}'; expected one of: {string.Join(", ", Scopes)}");
            if (store is not null && !StoreTiers.Contains(store))
                return BadRequest($"Invalid store tier '{store}'; expected one of: {string.Join(", ", StoreTiers)}");
            if (!TryParseTtl(ttl, out var ttlSeconds, out var forever))
                return BadRequest($"Invalid ttl '{ttl}'; expected a duration such as '30s', '30m', '1h', '7d', or 'forever'");
            var input = new ResultInput(name, body.Fields["data"]?.ToJsonString() ?? "null", scope, sourceStep,
                body.Raw("correlation")?.ToJsonString(), body.Raw("extracted")?.ToJsonString(), ttlSeconds, forever);
            return await grains.Reference<IExecutionGrain>(executionId).StoreResult(input).ToHttp();
        }).ForWorkers();

        results.MapGet("/resolve", async (string? @ref, IGrainFactory grains) =>
        {
            if (@ref is null || ReferencePattern().Match(@ref) is not { Success: true } match || !long.TryParse(match.Groups[1].Value, out var executionId))
                return RequestBody.Problem("value_error", ["query", "ref"], "ref must look like noetl://execution/<execution_id>/result/<name>/<id>");
            return await grains.Reference<IExecutionGrain>(executionId).ReadResult(null, @ref).ToHttp();
        }).ForAnyPrincipal();

        results.MapGet("/{execution_id}/{name}", async (string execution_id, string name, IGrainFactory grains) =>
        {
            if (!long.TryParse(execution_id, out var executionId))
                return ExecutionIdProblem();
            if (NameProblem(name) is { } problem)
                return RequestBody.Problem("value_error", ["path", "name"], problem);
            return await grains.Reference<IExecutionGrain>(executionId).ReadResult(name, null).ToHttp();
        }).ForAnyPrincipal();
    }

    /// <summary>A name is part of the ref and of a route: one path segment of printable characters.</summary>
    private static string? NameProblem(string name) =>
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

    private static IResult BadRequest(string message) => Results.Json(new { detail = message }, statusCode: StatusCodes.Status400BadRequest);

    private static IResult ExecutionIdProblem() => RequestBody.Problem("int_parsing", ["path", "execution_id"], "execution_id must be an integer");

    [GeneratedRegex(@"^(\d{1,12})\s*(s|m|h|d)?$")]
    private static partial Regex TtlPattern();

    [GeneratedRegex(@"^noetl://execution/(\d{1,19})/result/[^/]+/[^/]+$")]
    private static partial Regex ReferencePattern();
}
