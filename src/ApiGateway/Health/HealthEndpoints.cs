using Microsoft.AspNetCore.Http.HttpResults;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Health;

/// <summary><c>/api/health</c>: <c>status</c> is <c>ok</c> or <c>unhealthy</c>, <c>database</c>/<c>silo</c> what answered.</summary>
public sealed record HealthReport(string Status, string Database, string Silo, int UptimeSeconds, string? Version);

public static class HealthEndpoints
{
    private static readonly DateTime StartedAt = DateTime.UtcNow;

    public static void MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        // Liveness of the gateway process only.
        app.MapGet("/health", () => TypedResults.Ok(new Liveness("ok")));

        // Readiness: a silo answers and, through it, PostgreSQL answers. 503 otherwise.
        app.MapGet("/api/health", Readiness).Produces<HealthReport>(StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<Results<Ok<HealthReport>, JsonHttpResult<HealthReport>>> Readiness(IGrainFactory grains, CancellationToken ct)
    {
        bool reachable;
        try
        {
            reachable = await grains.Reference<IHealthGrain>(0).DatabaseReachable().WaitAsync(TimeSpan.FromSeconds(5), ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return Unhealthy(Report("unhealthy", "unknown", silo: "unavailable"));
        }
        return reachable
            ? TypedResults.Ok(Report("ok", "connected", silo: "connected"))
            : Unhealthy(Report("unhealthy", "disconnected", silo: "connected"));
    }

    private static JsonHttpResult<HealthReport> Unhealthy(HealthReport report) =>
        TypedResults.Json(report, statusCode: StatusCodes.Status503ServiceUnavailable);

    private static HealthReport Report(string status, string database, string silo) => new(status, database, silo,
        (int)(DateTime.UtcNow - StartedAt).TotalSeconds, typeof(HealthEndpoints).Assembly.GetName().Version?.ToString());
}

/// <summary><c>/health</c>: <c>{"status": "ok"}</c>.</summary>
public sealed record Liveness(string Status);
