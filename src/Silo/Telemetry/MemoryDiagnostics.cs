using System.Security.Cryptography;
using System.Text;

namespace NoEtl.Silo.Telemetry;

/// <summary>
/// <c>GET /diagnostics/memory</c>: the silo's managed heap after a full, compacting collection — what the benchmark
/// divides by the executions it holds active. A forced collection pauses the whole silo, so the route exists only
/// when <c>NOETL_OPERATOR_TOKEN</c> is set and answers only that bearer token.
/// </summary>
public static class MemoryDiagnostics
{
    public const string Route = "/diagnostics/memory";

    public static WebApplication MapMemoryDiagnostics(this WebApplication app)
    {
        if (app.Configuration["NOETL_OPERATOR_TOKEN"]?.Trim() is not { Length: > 0 } token)
            return app;
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        app.MapGet(Route, (HttpRequest request) =>
        {
            var header = request.Headers.Authorization.ToString();
            var presented = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : "";
            // Digests have a fixed length, so the comparison takes the same time whatever was presented.
            if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), expected))
                return Results.Unauthorized();
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            // Written by hand: in combined hosting the API's JSON options (source-generated types only) apply here too.
            return Results.Content(
                $$"""{"managed_bytes": {{GC.GetTotalMemory(forceFullCollection: true)}}, "working_set_bytes": {{Environment.WorkingSet}}}""",
                "application/json");
        }).ExcludeFromDescription();
        return app;
    }
}

