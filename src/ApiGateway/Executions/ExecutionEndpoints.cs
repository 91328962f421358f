using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;
using StartAnswer = Microsoft.AspNetCore.Http.HttpResults.Results<
    Microsoft.AspNetCore.Http.HttpResults.Ok<NoEtl.Grains.ExecutionStarted>,
    Microsoft.AspNetCore.Http.HttpResults.NotFound<NoEtl.ApiGateway.Http.ErrorBody>,
    NoEtl.ApiGateway.Http.ForbiddenError,
    Microsoft.AspNetCore.Http.HttpResults.Conflict<NoEtl.ApiGateway.Http.ErrorBody>,
    Microsoft.AspNetCore.Http.HttpResults.UnprocessableEntity<NoEtl.ApiGateway.Http.ValidationErrors>,
    NoEtl.ApiGateway.Http.UnavailableError>;

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

        executions.MapGet("/", List).ForAnyPrincipal();

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
        executions.MapPost("/{id}/rerun", Rerun).ForAnyPrincipal();
        executions.MapPost("/{id}/analyze", Analyze).ForAnyPrincipal();
    }

    private static async Task<StartAnswer> Execute(JsonBody<ExecuteRequest> body, HttpRequest http, IGrainFactory grains)
    {
        var (key, badKey) = RequestBody.IdempotencyKey(http);
        if (badKey is not null)
            return badKey;
        var request = body.Value;
        var start = new StartExecution(request.Path, request.CatalogId, request.VersionNumber, request.Payload?.ToJsonString() ?? "{}",
            request.ParentExecutionId, key);
        return Started(await grains.Reference<IExecutionDirectoryGrain>(0).Execute(start, request.ResourceKind));
    }

    private static async Task<StartAnswer> Rerun(string id, JsonBody<RerunRequest> body, HttpRequest http, IGrainFactory grains)
    {
        var (key, badKey) = RequestBody.IdempotencyKey(http);
        if (badKey is not null)
            return badKey;
        if (!long.TryParse(id, out var executionId))
            return ExecutionIdProblem();
        return Started(await grains.Reference<IExecutionDirectoryGrain>(0).Rerun(executionId, body.Value.Workload?.ToJsonString() ?? "{}", key));
    }

    /// <summary>The answer of a start, by <c>/api/execute</c> or a rerun.</summary>
    private static StartAnswer Started(Outcome<ExecutionStarted> outcome) => outcome switch
    {
        { Value: { } started } => TypedResults.Ok(started),
        { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
        { Failure: { Kind: FailureKind.Forbidden } failure } => ContractResults.Forbidden(failure),
        { Failure: { Kind: FailureKind.Conflict } failure } => ContractResults.Conflict(failure),
        { Failure: { Kind: FailureKind.Invalid } failure } => ContractResults.Invalid(failure),
        { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
        _ => throw ContractResults.Undeclared(outcome.Failure),
    };

    private static async Task<Results<Ok<IReadOnlyList<ExecutionSummary>>, UnprocessableEntity<ValidationErrors>, UnavailableError>> List(
        IGrainFactory grains, int? page, int? page_size)
    {
        var size = page_size ?? 100;
        var number = page ?? 1;
        if (number < 1 || size < 1 || size > 200)
            return ContractResults.FieldProblem("value_error", ["query", "page_size"], "page >= 1 and 1 <= page_size <= 200");
        if ((number - 1L) * size > RequestLimits.MaxExecutionOffset)
            return ContractResults.FieldProblem("value_error", ["query", "page"], $"(page - 1) * page_size must not exceed {RequestLimits.MaxExecutionOffset}");
        var outcome = await grains.Reference<IExecutionDirectoryGrain>(0).List(number, size);
        return outcome switch
        {
            { Value: { } summaries } => TypedResults.Ok(summaries),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<ExecutionAnalysis>, NotFound<ErrorBody>, ForbiddenError, UnprocessableEntity<ValidationErrors>, UnavailableError>> Analyze(
        string id, JsonBody<AnalyzeRequest> body, IGrainFactory grains)
    {
        if (!long.TryParse(id, out var executionId))
            return ExecutionIdProblem();
        var outcome = await grains.Reference<IExecutionDirectoryGrain>(0).Analyze(executionId, body.Value.Limit ?? 10);
        return outcome switch
        {
            { Value: { } analysis } => TypedResults.Ok(analysis),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            { Failure: { Kind: FailureKind.Forbidden } failure } => ContractResults.Forbidden(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
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

    private static async Task<Results<Ok<ExecutionDetail>, NotFound<ErrorBody>, UnprocessableEntity<ValidationErrors>, UnavailableError>> Detail(
        string id, IGrainFactory grains, GrainFailover failover, HttpContext context, int? page, int? page_size, long? since_event_id, string? event_type,
        bool? include_events)
    {
        var size = page_size ?? 100;
        if (size is < 10 or > 500 || page is < 1)
            return ContractResults.FieldProblem("value_error", ["query", "page_size"], "page >= 1 and 10 <= page_size <= 500");
        if (((page ?? 1) - 1L) * size > RequestLimits.MaxEventOffset)
            return ContractResults.FieldProblem("value_error", ["query", "page"],
                $"(page - 1) * page_size must not exceed {RequestLimits.MaxEventOffset}; narrow the events with since_event_id or event_type");
        if (!long.TryParse(id, out var executionId))
            return ExecutionIdProblem();
        var eventPage = new EventPage(page ?? 1, size, since_event_id, event_type, include_events ?? true);
        // A read: repeating it after its silo died is harmless.
        var outcome = await failover.CallAsync(() => grains.Reference<IExecutionDirectoryGrain>(0).Detail(executionId, eventPage), context.RequestAborted);
        return outcome switch
        {
            { Value: { } detail } => TypedResults.Ok(detail),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    /// <summary>Path ids must be integers; anything else is a 422 before any grain is touched.</summary>
    private static UnprocessableEntity<ValidationErrors> ExecutionIdProblem() =>
        ContractResults.FieldProblem("int_parsing", ["path", "execution_id"], "execution_id must be an integer");
}
