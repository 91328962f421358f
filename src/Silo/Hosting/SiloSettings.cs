using System.Net;
using Npgsql;
using static NoEtl.Configuration.ConfigurationValues;

namespace NoEtl.Silo.Hosting;

/// <summary>How this silo joins its cluster. Configuration keys are environment-variable names.</summary>
public enum ClusteringMode
{
    /// <summary>One silo, no database membership (development).</summary>
    Localhost,
    /// <summary>ADO.NET membership on PostgreSQL: the default for separate processes.</summary>
    Postgres,
    /// <summary>Postgres membership plus Orleans Kubernetes hosting (pod name/IP, pod watching).</summary>
    Kubernetes,
}

/// <summary>Who serves NoETL's HTTP API (NOETL_HOSTING).</summary>
public enum HostingMode
{
    /// <summary>A gateway process in front of the silos; the silo's HTTP port has health and metrics only (default, Helm).</summary>
    Separate,
    /// <summary>This silo also serves the API (the same src/ApiGateway endpoints over its in-process grain factory).</summary>
    Combined,
}

public sealed class SiloSettings
{
    public required string ConnectionString { get; init; }
    public ClusteringMode Clustering { get; init; }
    public HostingMode Hosting { get; init; }
    public string ClusterId { get; init; } = "noetl";
    public string ServiceId { get; init; } = "noetl";
    public int SiloPort { get; init; } = 11111;
    public int GatewayPort { get; init; } = 30000;

    /// <summary>
    /// The address this silo advertises in the membership table and listens on (ORLEANS_ADVERTISED_IP; default
    /// loopback, one machine). Other silos and the gateways connect to it, so on several hosts it is the host's own.
    /// </summary>
    public IPAddress AdvertisedAddress { get; init; } = IPAddress.Loopback;

    /// <summary>
    /// The most PostgreSQL connections this silo holds, whatever the number of workers: a small pool for
    /// Orleans membership and reminders (so heartbeats never queue behind grain traffic) and the rest for grains.
    /// </summary>
    public int PoolSize { get; init; } = 20;

    public const int ClusterPoolSize = 2;

    /// <summary>How long a request waits for a pooled connection before answering 503 <c>pool_saturated</c>.</summary>
    public int AcquireTimeoutSeconds { get; init; } = 2;

    /// <summary>Period of execution reminders (NOETL_REMINDER_PERIOD_SECONDS); Orleans' minimum is lowered to allow it.</summary>
    public int ReminderPeriodSeconds { get; init; } = 60;

    /// <summary>
    /// Membership probe timeout and missed-probe limit (null: Orleans' defaults, 5 s and 3). A killed silo is
    /// declared dead after about timeout × limit; until then calls to its grains fail with 503.
    /// </summary>
    public int? ProbeTimeoutSeconds { get; init; }

    public int? MissedProbesLimit { get; init; }

    /// <summary>
    /// The longest a probe may wait as Orleans stretches it under load (null: Orleans' 4 × probe timeout). It also
    /// sets how long traffic seen on a connection keeps its silo "demonstrably alive" (this × missed probes): a silo
    /// partitioned away just after a message cannot be voted out sooner.
    /// </summary>
    public int? MaxProbeTimeoutSeconds { get; init; }

    /// <summary>
    /// How often the silo re-reads the membership table (null: Orleans' 60 s). A silo cut off from the others hears of
    /// its own eviction only this way (gossip cannot reach it), and stops when it does.
    /// </summary>
    public int? TableRefreshSeconds { get; init; }

    /// <summary>
    /// How long this silo's probes of PostgreSQL must fail before it stops, provided another silo still reaches it
    /// (NOETL_DB_WATCHDOG_SECONDS; 0: never). See <see cref="NoEtl.Grains.Watchdog.DatabaseWatchdog"/>.
    /// </summary>
    public int DatabaseWatchdogSeconds { get; init; } = 30;

    /// <summary>Period and deadline of those probes (NOETL_DB_WATCHDOG_PROBE_SECONDS).</summary>
    public int DatabaseWatchdogProbeSeconds { get; init; } = 1;

    public const string DefaultConnectionString =
        "Host=127.0.0.1;Port=55432;Database=noetl;Username=noetl_server;Password=noetl_server";

    public static SiloSettings From(IConfiguration configuration)
    {
        var mode = configuration["NOETL_CLUSTERING"] switch
        {
            null or "" => Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST") is null ? ClusteringMode.Postgres : ClusteringMode.Kubernetes,
            var text when Enum.TryParse<ClusteringMode>(text, ignoreCase: true, out var parsed) => parsed,
            var text => throw new InvalidOperationException($"NOETL_CLUSTERING must be localhost, postgres or kubernetes, not '{text}'"),
        };
        if (mode == ClusteringMode.Kubernetes && Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST") is null)
            throw new InvalidOperationException("NOETL_CLUSTERING=kubernetes needs KUBERNETES_SERVICE_HOST (Orleans Kubernetes hosting aborts outside a cluster)");

        return new SiloSettings
        {
            ConnectionString = configuration.GetConnectionString("Noetl") ?? configuration["NOETL_DATABASE_URL"] ?? DefaultConnectionString,
            Clustering = mode,
            Hosting = configuration["NOETL_HOSTING"] switch
            {
                null or "" => HostingMode.Separate,
                var text when Enum.TryParse<HostingMode>(text, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) => parsed,
                var text => throw new InvalidOperationException($"NOETL_HOSTING must be separate or combined, not '{text}'"),
            },
            ClusterId = configuration["ORLEANS_CLUSTER_ID"] ?? "noetl",
            ServiceId = configuration["ORLEANS_SERVICE_ID"] ?? "noetl",
            SiloPort = Int(configuration, "ORLEANS_SILO_PORT", 11111, min: 1, max: 65535),
            GatewayPort = Int(configuration, "ORLEANS_GATEWAY_PORT", 30000, min: 1, max: 65535),
            AdvertisedAddress = configuration["ORLEANS_ADVERTISED_IP"] switch
            {
                null or "" => IPAddress.Loopback,
                var text when IPAddress.TryParse(text, out var address) => address,
                var text => throw new InvalidOperationException($"ORLEANS_ADVERTISED_IP must be an IP address, not '{text}'"),
            },
            // The Orleans providers keep ClusterPoolSize of them; the grains need at least one more.
            PoolSize = Int(configuration, "NOETL_POSTGRES_POOL_MAX", 20, min: ClusterPoolSize + 1),
            AcquireTimeoutSeconds = Int(configuration, "NOETL_DB_ACQUIRE_TIMEOUT_SECONDS", 2),
            ReminderPeriodSeconds = Int(configuration, "NOETL_REMINDER_PERIOD_SECONDS", 60, min: 1),
            ProbeTimeoutSeconds = OptionalInt(configuration, "NOETL_MEMBERSHIP_PROBE_TIMEOUT_SECONDS", min: 1),
            MissedProbesLimit = OptionalInt(configuration, "NOETL_MEMBERSHIP_MISSED_PROBES", min: 1),
            MaxProbeTimeoutSeconds = OptionalInt(configuration, "NOETL_MEMBERSHIP_MAX_PROBE_TIMEOUT_SECONDS", min: 1),
            TableRefreshSeconds = OptionalInt(configuration, "NOETL_MEMBERSHIP_TABLE_REFRESH_SECONDS", min: 1),
            DatabaseWatchdogSeconds = Int(configuration, "NOETL_DB_WATCHDOG_SECONDS", 30, min: 0),
            DatabaseWatchdogProbeSeconds = Int(configuration, "NOETL_DB_WATCHDOG_PROBE_SECONDS", 1, min: 1),
        };
    }

    /// <summary>The grains' data source: bounded pool, short acquire timeout, named in pg_stat_activity.</summary>
    public NpgsqlDataSource CreateDataSource() => NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(ConnectionString)
    {
        MaxPoolSize = Math.Max(1, PoolSize - ClusterPoolSize),
        Timeout = AcquireTimeoutSeconds,
        ApplicationName = "noetl-silo",
        // The grains run a handful of fixed statements on every turn: let Npgsql prepare them once per connection.
        MaxAutoPrepare = 32,
        // No grain leaves session state behind (advisory locks are transaction-scoped, nothing LISTENs or SETs), so
        // skip the seven reset statements Npgsql would otherwise run each time a connection goes back to the pool.
        NoResetOnClose = true,
    }.ConnectionString);

    /// <summary>The Orleans providers' connection string (their own pool).</summary>
    public string ClusterConnectionString => new NpgsqlConnectionStringBuilder(ConnectionString)
    {
        MaxPoolSize = ClusterPoolSize,
        ApplicationName = "noetl-silo-cluster",
        // The Orleans ADO.NET providers look up their unqualified tables through search_path.
        SearchPath = "orleans",
    }.ConnectionString;
}
