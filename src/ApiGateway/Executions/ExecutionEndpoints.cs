using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Executions;

/// <summary>
/// <c>POST /api/execute</c>: a catalog entry by <c>path</c> or <c>catalog_id</c>, at a <c>version</c> (a number, or
/// <c>"latest"</c>, the default), with a workload (<c>payload</c>, or NoETL's older <c>workload</c>).
/// </summary>
public sealed record ExecuteRequest(
    [property: FreeText] string? Path,
    long? CatalogId,
    [property: AnyJson] JsonText? Version,
    string? ResourceKind,
    [property: AlsoNamed("workload")] JsonObject? Payload,
    long? ParentExecutionId) : IRequestRules<ExecuteRequest>
{
    public static void Check(RequestBody body)
    {
        if (body.Raw("version") is { } version && version.ToString() != "latest")
            _ = body.Int("version", 1);
        if (body.Raw("path") is null && body.Raw("catalog_id") is null)
            body.Add("missing", "path", "path or catalog_id is required");
    }

    /// <summary>The version asked for; null for the latest.</summary>
    public int? VersionNumber => Version?.Json.Trim('"') is { } text && text != "latest" ? int.Parse(text, System.Globalization.CultureInfo.InvariantCulture) : null;
}

/// <summary><c>POST /api/executions/{id}/cancel</c> and <c>/stop</c>; an empty body takes the defaults.</summary>
public sealed record CancelRequest([property: FreeText] string? Reason, bool? Cascade) : IOptionalBody;

/// <summary><c>POST /api/executions/{id}/rerun</c>: the workload overlaid on the original one.</summary>
public sealed record RerunRequest([property: AlsoNamed("payload")] JsonObject? Workload) : IOptionalBody;

/// <summary><c>POST /api/executions/{id}/analyze</c>.</summary>
public sealed record AnalyzeRequest([property: Range(1, ExecutionEndpoints.MaxAnalyzeItems)] int? Limit) : IOptionalBody;

public static class ExecutionEndpoints
{
    /// <summary>The longest list an analysis report holds (failed steps, slowest steps).</summary>
    public const int MaxAnalyzeItems = 100;

    public static void MapExecutionEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/execute", Execute).ForAnyPrincipal();

        var executions = app.MapGroup("/api/executions");

        executions.MapGet("/", (IGrainFactory grains, int? page, int? page_size) =>
        {
            var size = page_size ?? 100;
            var number = page ?? 1;
            if (number < 1 || size < 1 || size > 200)
                return Task.FromResult(RequestBody.Problem("value_error", ["query", "page_size"], "page >= 1 and 1 <= page_size <= 200"));
            if ((number - 1L) * size > RequestLimits.MaxExecutionOffset)
                return Task.FromResult(RequestBody.Problem("value_error", ["query", "page"], $"(page - 1) * page_size must not exceed {RequestLimits.MaxExecutionOffset}"));
            return grains.Reference<IExecutionDirectoryGrain>(0).List(number, size).ToHttp();
        }).ForAnyPrincipal();

        executions.MapGet("/{id}", Detail).ForAnyPrincipal();
        executions.MapGet("/{id}/events", Detail).ForAnyPrincipal();
        executions.MapGet("/{id}/status", Status).ForAnyPrincipal();
        executions.MapGet("/{id}/cancellation-check", CancellationCheck).ForAnyPrincipal();

        executions.MapPost("/{id}/cancel", (string id, JsonBody<CancelRequest> body, IGrainFactory grains) =>
            Cancel(id, body.Value.Reason ?? "User requested cancellation", body.Value.Cascade ?? true, grains)).ForOperators();

        // The GUI's Stop button: a cancel that always reaches the children.
        executions.MapPost("/{id}/stop", (string id, JsonBody<CancelRequest> body, IGrainFactory grains) =>
            Cancel(id, body.Value.Reason ?? "Stopped by user", cascade: true, grains)).ForOperators();

        // Same callers and rules as /api/execute: the new execution is started by the same directory path.
        executions.MapPost("/{id}/rerun", (string id, JsonBody<RerunRequest> body, HttpRequest request, IGrainFactory grains) =>
        {
            var (key, badKey) = RequestBody.IdempotencyKey(request);
            if (badKey is not null)
                return Task.FromResult<IResult>(badKey);
            return WithExecution(id, executionId =>
                grains.Reference<IExecutionDirectoryGrain>(0).Rerun(executionId, body.Value.Workload?.ToJsonString() ?? "{}", key));
        }).ForAnyPrincipal();

        executions.MapPost("/{id}/analyze", (string id, JsonBody<AnalyzeRequest> body, IGrainFactory grains) =>
            WithExecution(id, executionId => grains.Reference<IExecutionDirectoryGrain>(0).Analyze(executionId, body.Value.Limit ?? 10))).ForAnyPrincipal();
    }

    private static async Task<IResult> Execute(JsonBody<ExecuteRequest> body, HttpRequest http, IGrainFactory grains)
    {
        var (key, badKey) = RequestBody.IdempotencyKey(http);
        if (badKey is not null)
            return badKey;
        var request = body.Value;
        var start = new StartExecution(request.Path, request.CatalogId, request.VersionNumber, request.Payload?.ToJsonString() ?? "{}",
            request.ParentExecutionId, key);
        return await grains.Reference<IExecutionDirectoryGrain>(0).Execute(start, request.ResourceKind).ToHttp();
    }

    private static async Task<Results<Ok<ExecutionStatusReport>, NotFound<ErrorBody>, UnprocessableEntity<ValidationErrors>>> Status(string id, IGrainFactory grains)
    {
        if (!long.TryParse(id, out var executionId))
            return ExecutionIdProblem();
        var outcome = await grains.Reference<IExecutionGrain>(executionId).Status();
        return outcome switch
        {
            { Value: { } status } => TypedResults.Ok(status),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<CancellationState>, NotFound<ErrorBody>, UnprocessableEntity<ValidationErrors>>> CancellationCheck(
        string id, IGrainFactory grains)
    {
        if (!long.TryParse(id, out var executionId))
            return ExecutionIdProblem();
        var outcome = await grains.Reference<IExecutionGrain>(executionId).CancellationCheck();
        return outcome switch
        {
            { Value: { } state } => TypedResults.Ok(state),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<Cancellation>, NotFound<ErrorBody>, UnprocessableEntity<ValidationErrors>, UnavailableError>> Cancel(
        string id, string reason, bool cascade, IGrainFactory grains)
    {
        if (!long.TryParse(id, out var executionId))
            return ExecutionIdProblem();
        var outcome = await grains.Reference<IExecutionGrain>(executionId).Cancel(reason, cascade);
        return outcome switch
        {
            { Value: { } cancellation } => TypedResults.Ok(cancellation),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static Task<IResult> Detail(
        string id, IGrainFactory grains, GrainFailover failover, HttpContext context, int? page, int? page_size, long? since_event_id, string? event_type,
        bool? include_events)
    {
        var size = page_size ?? 100;
        if (size is < 10 or > 500 || page is < 1)
            return Task.FromResult(RequestBody.Problem("value_error", ["query", "page_size"], "page >= 1 and 10 <= page_size <= 500"));
        if (((page ?? 1) - 1L) * size > RequestLimits.MaxEventOffset)
            return Task.FromResult(RequestBody.Problem("value_error", ["query", "page"],
                $"(page - 1) * page_size must not exceed {RequestLimits.MaxEventOffset}; narrow the events with since_event_id or event_type"));
        var eventPage = new EventPage(page ?? 1, size, since_event_id, event_type, include_events ?? true);
        // A read: repeating it after its silo died is harmless.
        return WithExecution(id, executionId => failover.CallAsync(() => grains.Reference<IExecutionDirectoryGrain>(0).Detail(executionId, eventPage), context.RequestAborted));
    }

    /// <summary>Path ids must be integers; anything else is a 422 before any grain is touched.</summary>
    private static async Task<IResult> WithExecution(string id, Func<long, Task<Reply>> call) =>
        long.TryParse(id, out var executionId) ? await call(executionId).ToHttp() : ExecutionIdProblem();

    private static UnprocessableEntity<ValidationErrors> ExecutionIdProblem() =>
        ContractResults.FieldProblem("int_parsing", ["path", "execution_id"], "execution_id must be an integer");
}
