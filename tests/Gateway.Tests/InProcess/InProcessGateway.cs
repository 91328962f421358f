using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NoEtl.Grains.Hosting;
using NoEtl.TestSupport;
using Npgsql;
using Orleans.TestingHost;

namespace NoEtl.Gateway.Tests.InProcess;

/// <summary>
/// The gateway in this process — its real <c>Program</c>, hosted by <see cref="WebApplicationFactory{TEntryPoint}"/> —
/// in front of the real grains on a one-silo Orleans <see cref="TestCluster"/> (also in this process) over a fresh,
/// migrated database on the test PostgreSQL. No child process: a request costs what the gateway and the grains cost,
/// so route and shape tests run in seconds. The silo gets the grains' services exactly as the silo program registers
/// them (<see cref="GrainServices.AddNoEtlGrains"/>); what only real processes show (restarts, NATS, workers, the
/// database role split) stays with the process-level tests in Integration.Tests.
/// </summary>
public sealed class InProcessGateway : IAsyncLifetime
{
    public const string Operator = "fast-operator-token";
    public const string PoolA = "fast-pool-a-token";
    public const string PoolB = "fast-pool-b-token";
    public const string Internal = "fast-internal-token";

    /// <summary>Pool A is the user pool every user playbook runs on; pool B is another user pool.</summary>
    public const string PoolAName = "shared";
    public const string PoolBName = "other";

    private const string DatabaseSetting = "NoEtlTests:ServerConnectionString";

    private WebApplicationFactory<Program>? _factory;

    public PgTestDatabase Database { get; private set; } = null!;

    public TestCluster Cluster { get; private set; } = null!;

    /// <summary>The gateway with the fixture's principals; <see cref="WithSettings"/> derives others from it.</summary>
    public WebApplicationFactory<Program> Gateway => _factory ?? throw new InvalidOperationException("not initialized");

    public static string TokensDocument => $$"""
        {"principals": [
          {"name": "operator", "role": "operator", "token_sha256": "{{Digest(Operator)}}"},
          {"name": "pool-a", "role": "worker", "pool": "{{PoolAName}}", "token_sha256": "{{Digest(PoolA)}}"},
          {"name": "pool-b", "role": "worker", "pool": "{{PoolBName}}", "token_sha256": "{{Digest(PoolB)}}"}
        ]}
        """;

    public async Task InitializeAsync()
    {
        Database = await PgTestDatabase.CreateAsync("gateway");
        var cluster = new TestClusterBuilder(initialSilosCount: 1);
        cluster.Options.ConnectionTransport = ConnectionTransportType.TcpSocket; // the gateway's client connects from outside the cluster
        cluster.Options.InitializeClientOnDeploy = false;
        cluster.Options.ConfigureFileLogging = false;
        cluster.Properties[DatabaseSetting] = Database.ServerConnectionString;
        cluster.Properties["NOETL_ENCRYPTION_KEY"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        cluster.AddSiloBuilderConfigurator<GrainsSilo>();
        Cluster = cluster.Build();
        await Cluster.DeployAsync();

        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment("Production");
            foreach (var (key, value) in GatewaySettings())
                web.UseSetting(key, value);
        });
    }

    /// <summary>Another gateway on the same cluster with some settings changed (an empty value unsets one).</summary>
    public WebApplicationFactory<Program> WithSettings(IReadOnlyDictionary<string, string> settings) =>
        Gateway.WithWebHostBuilder(web =>
        {
            foreach (var (key, value) in settings)
                web.UseSetting(key, value);
        });

    public HttpClient Client() => Gateway.CreateClient();

    public async Task DisposeAsync()
    {
        if (_factory is not null)
            await _factory.DisposeAsync();
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        await Database.DisposeAsync();
    }

    private Dictionary<string, string> GatewaySettings() => new()
    {
        ["NOETL_CLUSTERING"] = "localhost",
        ["ORLEANS_GATEWAY_PORT"] = Cluster.Primary!.GatewayAddress!.Endpoint.Port.ToString(),
        ["ORLEANS_CLUSTER_ID"] = Cluster.Options.ClusterId,
        ["ORLEANS_SERVICE_ID"] = Cluster.Options.ServiceId,
        ["NOETL_API_TOKENS"] = TokensDocument,
        ["NOETL_INTERNAL_API_TOKEN"] = Internal,
        ["NOETL_AUDIT_DENIED_WINDOW_SECONDS"] = "1",
        // Every test request comes from the same (absent) address: the throttling test sets its own budget.
        ["NOETL_AUTH_FAILURE_BURST"] = "100000",
        ["NOETL_AUTH_FAILURES_PER_SECOND"] = "100000",
    };

    private static string Digest(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>Constructed by type inside the silo: its settings come from the cluster's properties.</summary>
    public sealed class GrainsSilo : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            var configuration = silo.Configuration;
            var database = NpgsqlDataSource.Create(configuration[DatabaseSetting]!);
            silo.Services.AddNoEtlGrains(database, ServerOptions.FromConfiguration(configuration), snowflakeNode: 1);
            silo.UseInMemoryReminderService();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class InProcessGatewayCollection : ICollectionFixture<InProcessGateway>
{
    public const string Name = "in-process gateway";
}
