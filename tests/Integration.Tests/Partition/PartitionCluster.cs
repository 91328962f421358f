using NoEtl.Integration.Tests.Faults;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests.Partition;

/// <summary>
/// The system on the rig: PostgreSQL (a dedicated cluster) in namespace nx-pg, each silo and each gateway in its own
/// namespace, silos clustering through ADO.NET membership on that PostgreSQL as in production. Disposing it stops
/// the processes, the database and then the rig (every nx* namespace and link), whatever happened before.
/// </summary>
public sealed class PartitionCluster : IAsyncDisposable
{
    private PartitionCluster(NetnsRig rig) => Rig = rig;

    public NetnsRig Rig { get; }
    public DedicatedPostgres? Postgres { get; private set; }
    public NoEtlSystem System { get; private set; } = null!;

    /// <summary>One client per gateway, with the simulated workers' HTTP timeout.</summary>
    public List<HttpClient> Gateways { get; } = [];

    public static async Task<PartitionCluster> StartAsync(int silos, int gateways, Dictionary<string, string> siloSettings,
        Dictionary<string, string> gatewaySettings, TimeSpan workerHttpTimeout)
    {
        var cluster = new PartitionCluster(await NetnsRig.UpAsync());
        try
        {
            var database = await cluster.Rig.AddAsync("pg", NetnsRig.PostgresAddress);
            cluster.Postgres = await DedicatedPostgres.StartAsync(database.Address, database.Namespace);
            cluster.System = await NoEtlSystem.StartAsync(silos, poolSize: 8, WithDiagnostics(siloSettings), gatewaySettings: WithDiagnostics(gatewaySettings),
                adminConnectionString: cluster.Postgres.AdminConnectionString, rig: cluster.Rig);
            cluster.Gateways.Add(Client(cluster.System.GatewayUrl, workerHttpTimeout));
            for (var i = 1; i < gateways; i++)
            {
                var (_, url) = await cluster.System.StartGatewayAsync(NoEtlSystem.InternalToken);
                cluster.Gateways.Add(Client(url, workerHttpTimeout));
            }
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Timestamps and membership decisions in the processes' logs (.run/test-logs/): when a silo was suspected, declared dead.</summary>
    private static Dictionary<string, string> WithDiagnostics(Dictionary<string, string> settings) => new(settings)
    {
        ["Logging__Console__TimestampFormat"] = "HH:mm:ss.fff ",
        ["Logging__LogLevel__Orleans.Runtime.MembershipService"] = "Information",
    };

    private static HttpClient Client(string url, TimeSpan timeout) => new(new RoleAwareTokens()) { BaseAddress = new Uri(url), Timeout = timeout };

    public async ValueTask DisposeAsync()
    {
        Gateways.ForEach(g => g.Dispose());
        try
        {
            if (System is not null)
                await System.DisposeAsync();
            if (Postgres is not null)
                await Postgres.DisposeAsync();
        }
        finally
        {
            await Rig.DisposeAsync();
        }
    }
}
