namespace NoEtl.Integration.Tests.Infrastructure;

/// <summary>One silo and one gateway shared by the tests of the <see cref="SystemCollection"/>.</summary>
public sealed class SystemFixture : IAsyncLifetime
{
    public NoEtlSystem System { get; private set; } = null!;

    public HttpClient Http => System.Http;

    public async Task InitializeAsync() => System = await NoEtlSystem.StartAsync(silos: 1, poolSize: 10, siloSettings: new()
    {
        // Short leases and visibility timeouts so reclaim paths can be tested in seconds.
        ["NOETL_COMMAND_CLAIM_LEASE_SECONDS"] = "2",
        ["NOETL_OUTBOX_VISIBILITY_TIMEOUT_SECONDS"] = "3",
    });

    public async Task DisposeAsync() => await System.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class SystemCollection : ICollectionFixture<SystemFixture>
{
    public const string Name = "single silo system";
}
