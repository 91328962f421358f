using System.Globalization;
using NoEtl.Integration.Tests.Partition;
using NoEtl.TestSupport;

namespace NoEtl.Integration.Tests.Infrastructure;

/// <summary>
/// The real system on 127.0.0.1: a fresh database, silo processes with PostgreSQL membership, and a gateway
/// process that finds them through the discovery-only role. Tests talk to it over HTTP only. With a
/// <see cref="NetnsRig"/>, every silo and gateway runs in its own network namespace ("machine") with its own address.
/// </summary>
public sealed class NoEtlSystem : IAsyncDisposable
{
    public const string InternalToken = "integration-internal-token";

    /// <summary>The credential encryption key of test systems (base64 of 32 bytes).</summary>
    public static readonly string EncryptionKey = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)(i * 7)).ToArray());

    private readonly Dictionary<string, string> _siloSettings;
    private Dictionary<string, string> _gatewaySettings = [];

    private NoEtlSystem(PgTestDatabase database, int poolSize, Dictionary<string, string> siloSettings, NetnsRig? rig)
    {
        Database = database;
        PoolSize = poolSize;
        _siloSettings = siloSettings;
        Rig = rig;
        ClusterId = "it-" + Guid.NewGuid().ToString("N")[..10];
        // Known before any silo starts: silos put it into every command notification as server_url.
        GatewayUrl = rig is null ? $"http://127.0.0.1:{ProcessHost.FreePort()}" : RigUrl(NetnsRig.GatewayAddress(1));
    }

    /// <summary>Each process of the rig has a namespace of its own, so every one uses the same ports.</summary>
    private const int RigHttpPort = 8080;

    /// <summary>The port silos take Orleans client (gateway) connections on in the rig.</summary>
    public const int RigSiloGatewayPort = 30000;

    private static string RigUrl(string address) => $"http://{address}:{RigHttpPort}";

    public NetnsRig? Rig { get; }

    public PgTestDatabase Database { get; }
    public string ClusterId { get; }
    public int PoolSize { get; }
    public List<ProcessHost> Silos { get; } = [];
    /// <summary>The silos' own HTTP endpoints (health, metrics), in <see cref="Silos"/> order.</summary>
    public List<string> SiloUrls { get; } = [];
    public List<ProcessHost> Gateways { get; } = [];
    public string GatewayUrl { get; }
    public List<ProcessHost> Workers { get; } = [];
    public ProcessHost? Nats { get; private set; }
    public string? NatsUrl { get; private set; }
    public HttpClient Http { get; private set; } = null!;

    /// <summary>True when the first silo serves the API itself (<c>NOETL_HOSTING=combined</c>) and no gateway runs.</summary>
    public bool Combined { get; private init; }

    /// <param name="combined">One silo with <c>NOETL_HOSTING=combined</c> serves the API at <see cref="GatewayUrl"/>, with the gateway's settings.</param>
    public static async Task<NoEtlSystem> StartAsync(int silos = 1, int poolSize = 10, Dictionary<string, string>? siloSettings = null, bool withNats = false,
        Dictionary<string, string>? gatewaySettings = null, string? adminConnectionString = null, NetnsRig? rig = null, bool combined = false)
    {
        if (combined && (silos != 1 || rig is not null))
            throw new ArgumentException("combined hosting is tested with one silo on 127.0.0.1");
        var database = await PgTestDatabase.CreateAsync("it", adminConnectionString: adminConnectionString);
        var system = new NoEtlSystem(database, poolSize, siloSettings ?? [], rig) { _gatewaySettings = gatewaySettings ?? [], Combined = combined };
        try
        {
            if (withNats)
                await system.StartNatsAsync();
            for (var i = 0; i < silos; i++)
                await system.StartSiloAsync();
            if (!combined)
                await system.StartGatewayAsync(InternalToken, system.GatewayUrl);
            system.Http = new HttpClient(new RoleAwareTokens()) { BaseAddress = new Uri(system.GatewayUrl), Timeout = TimeSpan.FromSeconds(60) };
            return system;
        }
        catch
        {
            await system.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts a silo; <paramref name="settings"/> override the system's silo settings for this silo only.</summary>
    public async Task<ProcessHost> StartSiloAsync(Dictionary<string, string>? settings = null)
    {
        var number = Silos.Count + 1;
        var machine = Rig is null ? null : await Rig.AddAsync($"silo{number}", NetnsRig.SiloAddress(number));
        var servesApi = Combined && number == 1;
        var url = servesApi ? GatewayUrl : machine is null ? $"http://127.0.0.1:{ProcessHost.FreePort()}" : RigUrl(machine.Address);
        var environment = servesApi ? ApiEnvironment(InternalToken, _gatewaySettings) : [];
        foreach (var (key, value) in new Dictionary<string, string>
        {
            ["ConnectionStrings__Noetl"] = Database.ServerConnectionString,
            ["NOETL_CLUSTERING"] = "postgres",
            ["ORLEANS_CLUSTER_ID"] = ClusterId,
            ["ORLEANS_SERVICE_ID"] = ClusterId,
            ["ORLEANS_SILO_PORT"] = machine is null ? ProcessHost.FreePort().ToString() : "11111",
            ["ORLEANS_GATEWAY_PORT"] = machine is null ? ProcessHost.FreePort().ToString() : RigSiloGatewayPort.ToString(CultureInfo.InvariantCulture),
            ["ORLEANS_ADVERTISED_IP"] = machine?.Address ?? "127.0.0.1",
            ["ASPNETCORE_URLS"] = url,
            ["NOETL_POSTGRES_POOL_MAX"] = PoolSize.ToString(),
            ["NOETL_SERVER_URL"] = GatewayUrl,
            ["NOETL_ENCRYPTION_KEY"] = EncryptionKey,
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__NoEtl"] = "Information",
        }.Concat(_siloSettings).Concat(settings ?? []))
            environment[key] = value;
        if (servesApi)
            environment["NOETL_HOSTING"] = "combined";
        var silo = ProcessHost.StartIn(machine?.Namespace, $"silo-{number}", BuildOutput.Silo, environment);
        Silos.Add(silo);
        SiloUrls.Add(url);
        await silo.WaitHealthyAsync(servesApi ? $"{url}/api/health" : $"{url}/health", TimeSpan.FromSeconds(90));
        return silo;
    }

    /// <summary>
    /// Starts a gateway; <paramref name="internalToken"/> null leaves the internal API unconfigured. <paramref name="settings"/>
    /// override the system's gateway settings for this gateway only.
    /// </summary>
    public async Task<(ProcessHost Gateway, string Url)> StartGatewayAsync(string? internalToken, string? url = null, Dictionary<string, string>? settings = null)
    {
        var number = Gateways.Count + 1;
        var machine = Rig is null ? null : await Rig.AddAsync($"gw{number}", NetnsRig.GatewayAddress(number));
        url = machine is null ? url ?? $"http://127.0.0.1:{ProcessHost.FreePort()}" : RigUrl(machine.Address);
        var environment = ApiEnvironment(internalToken, _gatewaySettings.Concat(settings ?? []));
        environment["ConnectionStrings__Discovery"] = Database.DiscoveryConnectionString;
        environment["NOETL_CLUSTERING"] = "postgres";
        environment["ORLEANS_CLUSTER_ID"] = ClusterId;
        environment["ORLEANS_SERVICE_ID"] = ClusterId;
        environment["ASPNETCORE_URLS"] = url;
        var gateway = ProcessHost.StartIn(machine?.Namespace, $"gateway-{number}", BuildOutput.Gateway, environment);
        Gateways.Add(gateway);
        await gateway.WaitHealthyAsync($"{url}/api/health", TimeSpan.FromSeconds(90));
        return (gateway, url);
    }

    /// <summary>The settings of whichever process serves the API (a gateway, or a combined silo), then <paramref name="overrides"/>.</summary>
    private static Dictionary<string, string> ApiEnvironment(string? internalToken, IEnumerable<KeyValuePair<string, string>> overrides)
    {
        var environment = new Dictionary<string, string>
        {
            ["NOETL_INTERNAL_API_TOKEN"] = internalToken ?? "",
            ["NOETL_API_TOKENS"] = PrincipalTokens.Document,
            ["NOETL_AUDIT_DENIED_WINDOW_SECONDS"] = "1",
            // Test clients all share 127.0.0.1 and refused requests are what many tests send; HardenedGatewayTests
            // run with the product's budget.
            ["NOETL_AUTH_FAILURE_BURST"] = "100000",
            ["NOETL_AUTH_FAILURES_PER_SECOND"] = "100000",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (key, value) in overrides)
        {
            if (value.Length == 0)
                environment.Remove(key); // "": leave the product's own default in force
            else
                environment[key] = value;
        }
        return environment;
    }

    /// <summary>A JetStream server of this system only, so workers of parallel test systems never share streams.</summary>
    public async Task StartNatsAsync()
    {
        var port = NatsUrl is null ? ProcessHost.FreePort() : new Uri(NatsUrl).Port;
        var monitor = ProcessHost.FreePort();
        var store = NatsStore;
        Directory.CreateDirectory(store);
        Nats = ProcessHost.StartProgram("nats", "/usr/sbin/nats-server", store, new Dictionary<string, string>(),
            "-a", "127.0.0.1", "-p", port.ToString(), "-m", monitor.ToString(), "-js", "-sd", store);
        NatsUrl = $"nats://127.0.0.1:{port}";
        await Nats.WaitHealthyAsync($"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true", TimeSpan.FromSeconds(30));
    }

    /// <summary>Stops NATS (SIGTERM); <see cref="StartNatsAsync"/> brings it back on the same port and store.</summary>
    public async Task StopNatsAsync()
    {
        if (Nats is null)
            return;
        await Nats.StopAsync(TimeSpan.FromSeconds(15));
        await Nats.DisposeAsync();
        Nats = null;
    }

    private string NatsStore => Path.Combine(Path.GetTempPath(), $"noetl-it-nats-{ClusterId}");

    /// <summary>
    /// Starts a reference worker of <paramref name="pool"/>. Only the system pool gets the internal token, loaded
    /// into its keychain through the NOETL_KEYCHAIN_ENV_VARS allow-list — as in production.
    /// </summary>
    public async Task<ProcessHost> StartWorkerAsync(string pool, string? workerId = null, Dictionary<string, string>? settings = null)
    {
        workerId ??= $"{pool}-worker-{Workers.Count + 1}";
        var environment = new Dictionary<string, string>
        {
            ["NOETL_SERVER_URL"] = GatewayUrl,
            ["NATS_URL"] = NatsUrl ?? throw new InvalidOperationException("start NATS first"),
            ["WORKER_ID"] = workerId,
            ["WORKER_HEARTBEAT_INTERVAL"] = "1",
            ["WORKER_DRAIN_TIMEOUT"] = "10",
            ["Logging__LogLevel__Default"] = "Information",
        };
        if (pool == "system")
        {
            environment["NOETL_INTERNAL_API_TOKEN"] = InternalToken;
            environment["NOETL_KEYCHAIN_ENV_VARS"] = "NOETL_INTERNAL_API_TOKEN";
        }
        else
        {
            environment["NOETL_API_TOKEN"] = PrincipalTokens.SharedPool;
        }
        foreach (var (key, value) in settings ?? [])
            environment[key] = value;
        var worker = ProcessHost.Start(workerId, BuildOutput.Worker, environment, "--pool", pool);
        Workers.Add(worker);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (worker.HasExited)
                throw new InvalidOperationException($"{workerId} exited:\n{worker.Tail()}");
            var pools = await Http.Get($"/api/worker/pools?status=ready");
            if (pools.Json["items"]!.AsArray().Any(i => i!["name"]!.GetValue<string>() == workerId))
                return worker;
            await Task.Delay(200);
        }
        throw new TimeoutException($"{workerId} did not register:\n{worker.Tail()}");
    }

    /// <summary>Runs the noetl CLI against this system; returns its exit code and output.</summary>
    public async Task<(int ExitCode, string Output)> CliAsync(params string[] arguments)
    {
        var cli = ProcessHost.Start("noetl-cli", BuildOutput.Cli, new Dictionary<string, string> { ["NOETL_SERVER_URL"] = GatewayUrl, ["NOETL_API_TOKEN"] = PrincipalTokens.Operator }, arguments);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var code = await cli.WaitForExitAsync(timeout.Token);
        return (code, cli.Output);
    }

    public string Logs() => string.Join("\n", Silos.Concat(Gateways).Concat(Workers).Select(p => $"===== {p.Name}\n{p.Tail(40)}"));

    /// <summary>Process output is kept under .run/test-logs/ for diagnosing failures (CI prints nothing else).</summary>
    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        var logs = Path.Combine(BuildOutput.RepositoryRoot, ".run", "test-logs");
        Directory.CreateDirectory(logs);
        foreach (var process in Workers.Concat(Gateways).Concat(Silos).Concat(Nats is null ? [] : [Nats]))
        {
            await process.DisposeAsync();
            await File.WriteAllTextAsync(Path.Combine(logs, $"{ClusterId}-{process.Name}.log"), process.Output);
        }
        await Database.DisposeAsync();
        if (Directory.Exists(NatsStore))
            Directory.Delete(NatsStore, recursive: true);
    }
}
