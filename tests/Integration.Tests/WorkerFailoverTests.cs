using NoEtl.Integration.Tests.Faults;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>
/// Issue #17, scenario 4's second form: reference workers given both gateways in NOETL_SERVER_URL keep completing
/// executions after the gateway they were using is killed (the publisher's claims and the workers' claims and events
/// fail over to the other gateway). Real processes: one silo, two gateways, NATS, a system-pool and a shared-pool worker.
/// </summary>
public sealed class WorkerFailoverTests : IAsyncLifetime
{
    private NoEtlSystem _system = null!;
    private HttpClient _second = null!;

    public async Task InitializeAsync()
    {
        _system = await NoEtlSystem.StartAsync(silos: 1, poolSize: 6, withNats: true);
        var (_, secondUrl) = await _system.StartGatewayAsync(NoEtlSystem.InternalToken);
        _second = new HttpClient(new RoleAwareTokens()) { BaseAddress = new Uri(secondUrl) };
        var failover = new Dictionary<string, string>
        {
            ["NOETL_SERVER_URL"] = $"{_system.GatewayUrl},{secondUrl}",
            ["NOETL_SERVER_HTTP_TIMEOUT_SECONDS"] = "5",
        };
        await _system.StartWorkerAsync("system", settings: failover);
        await _system.StartWorkerAsync("shared", settings: failover);
    }

    public async Task DisposeAsync()
    {
        _second.Dispose();
        await _system.DisposeAsync();
    }

    [Fact]
    public async Task Workers_listing_both_gateways_keep_completing_executions_after_the_first_one_dies()
    {
        var path = $"tests/failover_{Guid.NewGuid():N}";
        await _system.Http.Register(FaultRun.ChainPlaybook(path, 3));
        await CompleteAsync(_system.Http, path);

        _system.Gateways[0].Kill(); // the gateway every worker was using

        await CompleteAsync(_second, path);
        Assert.Contains(_system.Workers, w => w.Output.Contains("calls go to", StringComparison.Ordinal));
    }

    /// <summary>Starts executions through <paramref name="gateway"/> and waits (generously) until the workers completed each.</summary>
    private static async Task CompleteAsync(HttpClient gateway, string path)
    {
        var executions = new List<long>();
        for (var i = 0; i < 5; i++)
            executions.Add(await gateway.Execute(path, new { i }));
        foreach (var executionId in executions)
        {
            var status = await gateway.WaitTerminalAsync(executionId, TimeSpan.FromSeconds(120));
            Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
        }
    }
}
