using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Commands;

/// <summary>Claims and command reads. Workers know only the event id; the directory finds the owning execution.</summary>
public static class CommandEndpoints
{
    public static void MapCommandEndpoints(this IEndpointRouteBuilder app)
    {
        var commands = app.MapGroup("/api/commands");

        commands.MapPost("/{eventId}/claim", async (string eventId, HttpRequest request, IGrainFactory grains, GrainFailover failover) =>
        {
            if (!long.TryParse(eventId, out var id))
                return RequestBody.Problem("int_parsing", ["path", "event_id"], "event_id must be an integer");
            var (body, error) = await RequestBody.ReadAsync(request);
            if (body is null)
                return error!;
            var workerId = body.RequiredString("worker_id");
            var locality = body.Object("locality");
            if (body.HasErrors)
                return body.Errors();

            var aborted = request.HttpContext.RequestAborted;
            var executionId = await failover.CallAsync(() => grains.Reference<IExecutionDirectoryGrain>(0).LocateCommand(id), aborted);
            if (executionId is null)
                return ReplyResults.NotFound($"command not found: {id}");
            return await failover.CallAsync(() => grains.Reference<IExecutionGrain>(executionId.Value).Claim(id, workerId, locality?.ToJsonString()), aborted).ToHttp();
        }).ForWorkers();

        commands.MapGet("/{eventId}", async (string eventId, IGrainFactory grains) =>
        {
            if (!long.TryParse(eventId, out var id))
                return RequestBody.Problem("int_parsing", ["path", "event_id"], "event_id must be an integer");
            var executionId = await grains.Reference<IExecutionDirectoryGrain>(0).LocateCommand(id);
            if (executionId is null)
                return ReplyResults.NotFound($"command not found: {id}");
            return await grains.Reference<IExecutionGrain>(executionId.Value).GetCommand(id).ToHttp();
        }).ForAnyPrincipal();
    }
}
