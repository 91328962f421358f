using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NoEtl.Grains;
using NoEtl.Grains.Executions;
using Orleans.Core.Internal;
using Orleans.Serialization.TypeSystem;

namespace NoEtl.Silo.Telemetry;

/// <summary>
/// Operator diagnostics for the benchmark's memory figures, mapped only when <c>NOETL_OPERATOR_TOKEN</c> is set and
/// answering only that bearer token. <c>GET /diagnostics/memory</c>: the silo's managed heap after a full, compacting
/// collection (which pauses the whole silo), its working set and the execution activations of the cluster.
/// <c>POST /diagnostics/deactivate</c> with <c>{"execution_ids": [...]}</c>: asks those executions' activations to
/// deactivate, as idle collection would, so the next call measures a re-activation (an execution that is not active
/// is activated first, then deactivated); with <c>{"all": true}</c> every active execution of the cluster, so a
/// measurement does not see earlier work's activations collected in its middle.
/// </summary>
public static class MemoryDiagnostics
{
    public const string Route = "/diagnostics/memory";
    public const string DeactivateRoute = "/diagnostics/deactivate";

    /// <summary>Executions per deactivation request at most.</summary>
    public const int MaxDeactivations = 10_000;

    /// <summary>How Orleans' grain statistics name the execution grain class.</summary>
    private static readonly string ExecutionGrainType = RuntimeTypeNameFormatter.Format(typeof(ExecutionGrain));

    public static WebApplication MapMemoryDiagnostics(this WebApplication app)
    {
        if (app.Configuration["NOETL_OPERATOR_TOKEN"]?.Trim() is not { Length: > 0 } token)
            return app;
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        bool Authorized(HttpRequest request)
        {
            var header = request.Headers.Authorization.ToString();
            var presented = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : "";
            // Digests have a fixed length, so the comparison takes the same time whatever was presented.
            return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), expected);
        }

        app.MapGet(Route, async (HttpRequest request, IGrainFactory grains) =>
        {
            if (!Authorized(request))
                return Results.Unauthorized();
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            var managed = GC.GetTotalMemory(forceFullCollection: true);
            var statistics = await grains.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics();
            var executions = statistics.Where(s => s.GrainType == ExecutionGrainType).Sum(s => s.ActivationCount);
            // Written by hand: in combined hosting the API's JSON options (source-generated types only) apply here too.
            return Results.Content(
                $$"""{"managed_bytes": {{managed}}, "working_set_bytes": {{Environment.WorkingSet}}, "execution_activations": {{executions}}}""",
                "application/json");
        }).ExcludeFromDescription();

        app.MapPost(DeactivateRoute, async (HttpRequest request, IGrainFactory grains) =>
        {
            if (!Authorized(request))
                return Results.Unauthorized();
            List<long> ids;
            try
            {
                using var body = await JsonDocument.ParseAsync(request.Body);
                ids = body.RootElement.TryGetProperty("all", out var all) && all.GetBoolean()
                    ? await ActiveExecutionsAsync(grains)
                    : [.. body.RootElement.GetProperty("execution_ids").EnumerateArray().Select(id => id.GetInt64())];
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                return Results.BadRequest();
            }
            if (ids.Count > MaxDeactivations)
                return Results.BadRequest();
            // What Orleans' own rebalancing calls: the activation goes once its current work is done.
            await Task.WhenAll(ids.Select(id => grains.GetGrain<IExecutionGrain>(id).AsReference<IGrainManagementExtension>().DeactivateOnIdle().AsTask()));
            return Results.Content($$"""{"requested": {{ids.Count}}}""", "application/json");
        }).ExcludeFromDescription();
        return app;
    }

    /// <summary>Every execution active in the cluster (at most <see cref="MaxDeactivations"/> are then deactivated per request).</summary>
    private static async Task<List<long>> ActiveExecutionsAsync(IGrainFactory grains)
    {
        var executionType = grains.GetGrain<IExecutionGrain>(0).GetGrainId().Type; // a reference only: nothing is activated
        var active = await grains.GetGrain<IManagementGrain>(0).GetActiveGrains(executionType);
        return [.. active.Select(id => id.GetIntegerKey()).Take(MaxDeactivations)];
    }
}
