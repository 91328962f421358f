using Npgsql;

namespace NoEtl.ApiGateway.Hosting;

/// <summary>
/// How the gateway finds silos. It never reads or writes <c>noetl.*</c>: with PostgreSQL membership it connects
/// as a discovery-only role that the database itself forbids from the noetl schema.
/// </summary>
public sealed class GatewaySettings
{
    public bool UseLocalhostClustering { get; init; }
    public int LocalhostGatewayPort { get; init; } = 30000;
    public string DiscoveryConnectionString { get; init; } = "";
    public string ClusterId { get; init; } = "noetl";
    public string ServiceId { get; init; } = "noetl";

    /// <summary>How long a grain call may take before the request is answered 504 <c>timeout</c> (null: Orleans' 30 s).</summary>
    public TimeSpan? GrainResponseTimeout { get; init; }

    /// <summary>
    /// Attempts of an idempotent worker call (claim, events, command lookup, execution read) whose silo died
    /// (NOETL_FAILOVER_ATTEMPTS, default 1: no retry), each limited to <see cref="FailoverAttemptTimeout"/>
    /// (NOETL_FAILOVER_ATTEMPT_TIMEOUT_MS, default 2000).
    /// </summary>
    public int FailoverAttempts { get; init; } = 1;

    public TimeSpan FailoverAttemptTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How often the gateway re-reads the silo list from the membership table (NOETL_GATEWAY_LIST_REFRESH_SECONDS,
    /// default 5, fractions allowed, at least 0.25): a silo voted out is no longer used as an entry point after at most
    /// this long. A silo cut off from
    /// the others but not from this gateway would otherwise keep receiving calls it can only forward into the void.
    /// </summary>
    public TimeSpan GatewayListRefreshPeriod { get; init; } = TimeSpan.FromSeconds(5);

    public const string DefaultDiscoveryConnectionString =
        "Host=127.0.0.1;Port=55432;Database=noetl;Username=noetl_gateway;Password=noetl_gateway";

    public static GatewaySettings From(IConfiguration configuration)
    {
        var discovery = new NpgsqlConnectionStringBuilder(
            configuration.GetConnectionString("Discovery") ?? configuration["NOETL_DISCOVERY_DATABASE_URL"] ?? DefaultDiscoveryConnectionString)
        {
            ApplicationName = "noetl-gateway",
            SearchPath = "orleans", // the ADO.NET gateway-list provider queries unqualified tables
            MaxPoolSize = 2,
        };
        return new GatewaySettings
        {
            UseLocalhostClustering = string.Equals(configuration["NOETL_CLUSTERING"], "localhost", StringComparison.OrdinalIgnoreCase),
            LocalhostGatewayPort = configuration.GetValue("ORLEANS_GATEWAY_PORT", 30000),
            DiscoveryConnectionString = discovery.ConnectionString,
            ClusterId = configuration["ORLEANS_CLUSTER_ID"] ?? "noetl",
            ServiceId = configuration["ORLEANS_SERVICE_ID"] ?? "noetl",
            GrainResponseTimeout = configuration.GetValue<int?>("NOETL_GRAIN_RESPONSE_TIMEOUT_SECONDS") is int seconds and > 0
                ? TimeSpan.FromSeconds(seconds)
                : null,
            GatewayListRefreshPeriod = TimeSpan.FromSeconds(Math.Clamp(configuration.GetValue("NOETL_GATEWAY_LIST_REFRESH_SECONDS", 5.0), 0.25, 300)),
            FailoverAttempts = Math.Clamp(configuration.GetValue("NOETL_FAILOVER_ATTEMPTS", 1), 1, 10),
            FailoverAttemptTimeout = TimeSpan.FromMilliseconds(Math.Clamp(configuration.GetValue("NOETL_FAILOVER_ATTEMPT_TIMEOUT_MS", 2000), 100, 60_000)),
        };
    }
}
