using NoEtl.TestSupport;

namespace NoEtl.Integration.Tests.Infrastructure;

/// <summary>
/// The real system on 127.0.0.1: a fresh database, silo processes with PostgreSQL membership, and a gateway
/// process that finds them through the discovery-only role. Tests talk to it over HTTP only.
/// </summary>
public sealed class NoEtlSystem : IAsyncDisposable
{
    public const string InternalToken = "integration-internal-token";

    private readonly Dictionary<string, string> _siloSettings;

    private NoEtlSystem(PgTestDatabase database, int poolSize, Dictionary<string, string> siloSettings)
    {
        Database = database;
        PoolSize = poolSize;
        _siloSettings = siloSettings;
        ClusterId = "it-" + Guid.NewGuid().ToString("N")[..10];
    }

    public PgTestDatabase Database { get; }
    public string ClusterId { get; }
    public int PoolSize { get; }
    public List<ProcessHost> Silos { get; } = [];
    public List<ProcessHost> Gateways { get; } = [];
    public string GatewayUrl { get; private set; } = "";
    public HttpClient Http { get; private set; } = null!;

    public static async Task<NoEtlSystem> StartAsync(int silos = 1, int poolSize = 10, Dictionary<string, string>? siloSettings = null)
    {
        var database = await PgTestDatabase.CreateAsync("it");
        var system = new NoEtlSystem(database, poolSize, siloSettings ?? []);
        try
        {
            for (var i = 0; i < silos; i++)
                await system.StartSiloAsync();
            var (gateway, url) = await system.StartGatewayAsync(InternalToken);
            system.GatewayUrl = url;
            system.Http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
            return system;
        }
        catch
        {
            await system.DisposeAsync();
            throw;
        }
    }

    public async Task<ProcessHost> StartSiloAsync()
    {
        var httpPort = ProcessHost.FreePort();
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Noetl"] = Database.ServerConnectionString,
            ["NOETL_CLUSTERING"] = "postgres",
            ["ORLEANS_CLUSTER_ID"] = ClusterId,
            ["ORLEANS_SERVICE_ID"] = ClusterId,
            ["ORLEANS_SILO_PORT"] = ProcessHost.FreePort().ToString(),
            ["ORLEANS_GATEWAY_PORT"] = ProcessHost.FreePort().ToString(),
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{httpPort}",
            ["NOETL_POSTGRES_POOL_MAX"] = PoolSize.ToString(),
            ["NOETL_SERVER_URL"] = "http://127.0.0.1:8082",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__NoEtl"] = "Information",
        };
        foreach (var (key, value) in _siloSettings)
            environment[key] = value;
        var silo = ProcessHost.Start($"silo-{Silos.Count + 1}", BuildOutput.Silo, environment);
        Silos.Add(silo);
        await silo.WaitHealthyAsync($"http://127.0.0.1:{httpPort}/health", TimeSpan.FromSeconds(90));
        return silo;
    }

    /// <summary>Starts a gateway; <paramref name="internalToken"/> null leaves the internal API unconfigured.</summary>
    public async Task<(ProcessHost Gateway, string Url)> StartGatewayAsync(string? internalToken)
    {
        var url = $"http://127.0.0.1:{ProcessHost.FreePort()}";
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Discovery"] = Database.DiscoveryConnectionString,
            ["NOETL_CLUSTERING"] = "postgres",
            ["ORLEANS_CLUSTER_ID"] = ClusterId,
            ["ORLEANS_SERVICE_ID"] = ClusterId,
            ["ASPNETCORE_URLS"] = url,
            ["NOETL_INTERNAL_API_TOKEN"] = internalToken ?? "",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        var gateway = ProcessHost.Start($"gateway-{Gateways.Count + 1}", BuildOutput.Gateway, environment);
        Gateways.Add(gateway);
        await gateway.WaitHealthyAsync($"{url}/api/health", TimeSpan.FromSeconds(90));
        return (gateway, url);
    }

    public string Logs() => string.Join("\n", Silos.Concat(Gateways).Select(p => $"===== {p.Name}\n{p.Tail(40)}"));

    /// <summary>Process output is kept under .run/test-logs/ for diagnosing failures (CI prints nothing else).</summary>
    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        var logs = Path.Combine(BuildOutput.RepositoryRoot, ".run", "test-logs");
        Directory.CreateDirectory(logs);
        foreach (var process in Gateways.Concat(Silos))
        {
            await process.DisposeAsync();
            await File.WriteAllTextAsync(Path.Combine(logs, $"{ClusterId}-{process.Name}.log"), process.Output);
        }
        await Database.DisposeAsync();
    }
}
