using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Executions;

public static class ExecutionEndpoints
{
    public static void MapExecutionEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/execute", async (HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var path = body.Text("path");
            var catalogId = body.Id("catalog_id");
            var version = body.Raw("version") is { } v && v.ToString() == "latest" ? null : body.Int("version", 1);
            var resourceKind = body.String("resource_kind");
            var workload = body.Object("payload", "workload");
            var parent = body.Id("parent_execution_id");
            if (path is null && catalogId is null)
                body.Add("missing", "path", "path or catalog_id is required");
            if (body.HasErrors)
                return body.Errors();
            var (key, badKey) = RequestBody.IdempotencyKey(request);
            if (badKey is not null)
                return badKey;
            var start = new StartExecution(path, catalogId, version, workload?.ToJsonString() ?? "{}", parent, key);
            return await grains.Reference<IExecutionDirectoryGrain>(0).Execute(start, resourceKind).ToHttp();
        }).ForAnyPrincipal();

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

        executions.MapGet("/{id}/status", (string id, IGrainFactory grains) =>
            WithExecution(id, executionId => grains.Reference<IExecutionGrain>(executionId).Status())).ForAnyPrincipal();

        executions.MapGet("/{id}/cancellation-check", (string id, IGrainFactory grains) =>
            WithExecution(id, executionId => grains.Reference<IExecutionGrain>(executionId).CancellationCheck())).ForAnyPrincipal();

        executions.MapPost("/{id}/cancel", (string id, HttpRequest request, IGrainFactory grains) =>
            Cancel(id, request, grains, "User requested cancellation", cascadeAlways: false)).ForOperators();

        // The GUI's Stop button: a cancel that always reaches the children.
        executions.MapPost("/{id}/stop", (string id, HttpRequest request, IGrainFactory grains) =>
            Cancel(id, request, grains, "Stopped by user", cascadeAlways: true)).ForOperators();

        // Same callers and rules as /api/execute: the new execution is started by the same directory path.
        executions.MapPost("/{id}/rerun", async (string id, HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request, allowEmpty: true);
            if (body is null)
                return error!;
            var workload = body.Object("workload", "payload");
            if (body.HasErrors)
                return body.Errors();
            var (key, badKey) = RequestBody.IdempotencyKey(request);
            if (badKey is not null)
                return badKey;
            return await WithExecution(id, executionId =>
                grains.Reference<IExecutionDirectoryGrain>(0).Rerun(executionId, workload?.ToJsonString() ?? "{}", key));
        }).ForAnyPrincipal();

        executions.MapPost("/{id}/analyze", async (string id, HttpRequest request, IGrainFactory grains) =>
        {
            var (body, error) = await RequestBody.ReadAsync(request, allowEmpty: true);
            if (body is null)
                return error!;
            var limit = body.Int("limit", 1, MaxAnalyzeItems) ?? 10;
            if (body.HasErrors)
                return body.Errors();
            return await WithExecution(id, executionId => grains.Reference<IExecutionDirectoryGrain>(0).Analyze(executionId, limit));
        }).ForAnyPrincipal();
    }

    /// <summary>The longest list an analysis report holds (failed steps, slowest steps).</summary>
    private const int MaxAnalyzeItems = 100;

    private static async Task<IResult> Cancel(string id, HttpRequest request, IGrainFactory grains, string defaultReason, bool cascadeAlways)
    {
        var (body, error) = await RequestBody.ReadAsync(request, allowEmpty: true);
        if (body is null)
            return error!;
        var reason = body.Text("reason") ?? defaultReason;
        var cascade = cascadeAlways || body.Bool("cascade", true);
        if (body.HasErrors)
            return body.Errors();
        return await WithExecution(id, executionId => grains.Reference<IExecutionGrain>(executionId).Cancel(reason, cascade));
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
        long.TryParse(id, out var executionId)
            ? await call(executionId).ToHttp()
            : RequestBody.Problem("int_parsing", ["path", "execution_id"], "execution_id must be an integer");
}
