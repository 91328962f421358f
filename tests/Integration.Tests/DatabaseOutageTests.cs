using System.Diagnostics;
using System.Net;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>
/// The overload contract when the pool is exhausted: 503 <c>pool_saturated</c> with <c>Retry-After</c>, answered
/// within the acquire timeout rather than queueing; the same call succeeds once connections are free again.
/// (Outages of the server itself are fault scenarios: Faults/FaultTests.cs.)
/// </summary>
public sealed class DatabaseOutageTests : IAsyncLifetime
{
    private NoEtlSystem _system = null!;

    // Pool 3 = 2 for Orleans membership/reminders + 1 for the grains; acquiring waits at most 1 s.
    public async Task InitializeAsync() => _system = await NoEtlSystem.StartAsync(silos: 1, poolSize: 3, siloSettings: new()
    {
        ["NOETL_DB_ACQUIRE_TIMEOUT_SECONDS"] = "1",
    });

    public async Task DisposeAsync() => await _system.DisposeAsync();

    [Fact]
    public async Task An_exhausted_pool_answers_503_pool_saturated_quickly_and_recovers()
    {
        var http = _system.Http;
        // Hold a lock the grains' only connection will wait on, so that connection stays checked out.
        await using var admin = new NpgsqlConnection(_system.Database.AdminConnectionString);
        await admin.OpenAsync();
        await using var transaction = await admin.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE noetl.execution IN ACCESS EXCLUSIVE MODE", admin, transaction))
            await lockTable.ExecuteNonQueryAsync();

        var blocked = http.Get("/api/executions?page_size=1");
        await Task.Delay(500); // let it take the connection
        var watch = Stopwatch.StartNew();
        var saturated = await http.Post("/api/catalog/list", new { });
        watch.Stop();
        Assert.True(HttpStatusCode.ServiceUnavailable == saturated.Status, saturated.Text);
        Assert.Equal("pool_saturated", saturated.Json["detail"]!["code"]!.GetValue<string>());
        Assert.NotNull(saturated.Raw.Headers.RetryAfter);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"answered after {watch.Elapsed}");

        await transaction.RollbackAsync();
        Assert.Equal(HttpStatusCode.OK, (await blocked).Status);
        Assert.Equal(HttpStatusCode.OK, (await http.Get("/api/executions?page_size=1")).Status);
    }
}
