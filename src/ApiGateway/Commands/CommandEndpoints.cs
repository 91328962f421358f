using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Commands;

/// <summary>A claim as posted to <c>POST /api/commands/{event_id}/claim</c>.</summary>
public sealed record ClaimRequest([property: Required] string WorkerId, JsonText? Locality);

/// <summary>Claims and command reads. Workers know only the event id; the directory finds the owning execution.</summary>
public static class CommandEndpoints
{
    public static void MapCommandEndpoints(this IEndpointRouteBuilder app)
    {
        var commands = app.MapGroup("/api/commands");
        commands.MapPost("/{eventId}/claim", Claim).ForWorkers();
        commands.MapGet("/{eventId}", Get).ForAnyPrincipal();
    }

    private static async Task<Results<Ok<CommandClaim>, NotFound<ErrorBody>, ForbiddenError, ConflictError, UnprocessableEntity<ValidationErrors>, UnavailableError>> Claim(
        string eventId, JsonBody<ClaimRequest> body, IGrainFactory grains, GrainFailover failover, HttpContext http)
    {
        if (!long.TryParse(eventId, out var id))
            return EventIdProblem();
        var aborted = http.RequestAborted;
        if (await failover.CallAsync(() => grains.Reference<IExecutionDirectoryGrain>(0).LocateCommand(id), aborted) is not { } executionId)
            return CommandNotFound(id);
        var request = body.Value;
        var outcome = await failover.CallAsync(() => grains.Reference<IExecutionGrain>(executionId).Claim(id, request.WorkerId, request.Locality), aborted);
        return outcome switch
        {
            { Value: { } claim } => TypedResults.Ok(claim),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            { Failure: { Kind: FailureKind.Forbidden } failure } => ContractResults.Forbidden(failure),
            { Failure: { Kind: FailureKind.Conflict } failure } => ContractResults.RetryableConflict(failure),
            { Failure: { Kind: FailureKind.Invalid } failure } => ContractResults.Invalid(failure),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static async Task<Results<Ok<CommandView>, NotFound<ErrorBody>, UnprocessableEntity<ValidationErrors>>> Get(string eventId, IGrainFactory grains)
    {
        if (!long.TryParse(eventId, out var id))
            return EventIdProblem();
        if (await grains.Reference<IExecutionDirectoryGrain>(0).LocateCommand(id) is not { } executionId)
            return CommandNotFound(id);
        var outcome = await grains.Reference<IExecutionGrain>(executionId).GetCommand(id);
        return outcome switch
        {
            { Value: { } command } => TypedResults.Ok(command),
            { Failure: { Kind: FailureKind.NotFound } failure } => ContractResults.NotFound(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }

    private static NotFound<ErrorBody> CommandNotFound(long eventId) => TypedResults.NotFound(new ErrorBody(JsonValue.Create($"command not found: {eventId}")));

    private static UnprocessableEntity<ValidationErrors> EventIdProblem() =>
        ContractResults.FieldProblem("int_parsing", ["path", "event_id"], "event_id must be an integer");
}
