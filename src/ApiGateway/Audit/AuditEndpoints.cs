using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Audit;

/// <summary>The filters of <c>GET /api/audit</c>, newest first, at most <c>limit</c> (1 to 1000, default 100).</summary>
public sealed record AuditFilter(
    string? Principal,
    string? Action,
    [property: FromQuery(Name = "execution_id")] long? ExecutionId,
    string? Outcome,
    DateTime? Since,
    int? Limit);

public static class AuditEndpoints
{
    public static void MapAuditEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/audit", Query).ForOperators();
    }

    private static async Task<Results<Ok<AuditRecords>, UnprocessableEntity<ValidationErrors>, UnavailableError>> Query(
        IGrainFactory grains, [AsParameters] AuditFilter filter)
    {
        if (filter.Limit is < 1 or > 1000)
            return ContractResults.FieldProblem("value_error", ["query", "limit"], "1 <= limit <= 1000");
        var outcome = await grains.Reference<IAuditGrain>(0).Query(new AuditQuery(
            filter.Principal, filter.Action, filter.ExecutionId, filter.Outcome, filter.Since, filter.Limit ?? 100));
        return outcome switch
        {
            { Value: { } records } => TypedResults.Ok(records),
            { Failure: { Kind: FailureKind.Unavailable } failure } => ContractResults.Unavailable(failure),
            _ => throw ContractResults.Undeclared(outcome.Failure),
        };
    }
}
