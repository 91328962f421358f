using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Audit;

public static class AuditEndpoints
{
    public static void MapAuditEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/audit", (IGrainFactory grains, string? principal, string? action, long? execution_id, string? outcome, DateTime? since, int? limit) =>
        {
            if (limit is < 1 or > 1000)
                return Task.FromResult(RequestBody.Problem("value_error", ["query", "limit"], "1 <= limit <= 1000"));
            return grains.Reference<IAuditGrain>(0).Query(new AuditQuery(principal, action, execution_id, outcome, since, limit ?? 100)).ToHttp();
        }).ForOperators();
    }
}
