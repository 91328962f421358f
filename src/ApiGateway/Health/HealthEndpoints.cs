using NoEtl.Grains;

namespace NoEtl.ApiGateway.Health;

public static class HealthEndpoints
{
    private static readonly DateTime StartedAt = DateTime.UtcNow;

    public static void MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        // Liveness of the gateway process only.
        app.MapGet("/health", () => Results.Ok(new { status = "ok" }));

        // Readiness: a silo answers and, through it, PostgreSQL answers. 503 otherwise.
        app.MapGet("/api/health", async (IGrainFactory grains, CancellationToken ct) =>
        {
            string database;
            try
            {
                var reachable = await grains.Reference<IHealthGrain>(0).DatabaseReachable().WaitAsync(TimeSpan.FromSeconds(5), ct);
                database = reachable ? "connected" : "disconnected";
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                database = "unknown";
                return Results.Json(Body("unhealthy", database, silo: "unavailable"), statusCode: StatusCodes.Status503ServiceUnavailable);
            }
            return database == "connected"
                ? Results.Ok(Body("ok", database, silo: "connected"))
                : Results.Json(Body("unhealthy", database, silo: "connected"), statusCode: StatusCodes.Status503ServiceUnavailable);
        });
    }

    private static object Body(string status, string database, string silo) => new
    {
        status,
        database,
        silo,
        uptime_seconds = (int)(DateTime.UtcNow - StartedAt).TotalSeconds,
        version = typeof(HealthEndpoints).Assembly.GetName().Version?.ToString(),
    };
}
