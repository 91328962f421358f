namespace NoEtl.Integration.Tests.Infrastructure;

/// <summary>
/// The whole system as production runs it: NATS JetStream, a silo, the gateway, one system-pool worker
/// (which also publishes the outbox to NATS) and one user-pool worker. Leases and sweeps are shortened so
/// recovery paths complete in seconds.
/// </summary>
public sealed class WorkerSystemFixture : IAsyncLifetime
{
    public NoEtlSystem System { get; private set; } = null!;

    public HttpClient Http => System.Http;

    public async Task InitializeAsync()
    {
        System = await NoEtlSystem.StartAsync(silos: 1, poolSize: 10, withNats: true, siloSettings: new()
        {
            ["NOETL_COMMAND_CLAIM_LEASE_SECONDS"] = "3",
            ["NOETL_COMMAND_WORKER_HEARTBEAT_STALE_SECONDS"] = "2",
            ["NOETL_COMMAND_REAPER_INTERVAL_SECONDS"] = "1",
            ["NOETL_COMMAND_REAPER_PENDING_RETRY_SECONDS"] = "20",
            ["NOETL_OUTBOX_VISIBILITY_TIMEOUT_SECONDS"] = "3",
        });
        await System.StartWorkerAsync("system", "system-worker-1");
        await System.StartWorkerAsync("shared", "shared-worker-1");
    }

    public async Task DisposeAsync() => await System.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class WorkerSystemCollection : ICollectionFixture<WorkerSystemFixture>
{
    public const string Name = "system with workers";
}
