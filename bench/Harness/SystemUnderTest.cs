using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NoEtl.TestSupport;

namespace NoEtl.Bench.Harness;

/// <summary>
/// What the scenarios drive: by default a system of our own (PostgreSQL from scripts/pg.sh, a fresh migrated
/// database, one or more silos and — unless the silo serves the API itself — one gateway from the build output), or a
/// running one given by <c>--target</c>.
/// </summary>
public sealed class SystemUnderTest : IAsyncDisposable
{

    private readonly PgTestDatabase? _database;
    private readonly List<ServerProcess> _processes = [];

    private SystemUnderTest(string gatewayUrl, ApiTokens tokens, string adminDsn, int poolSize, PgTestDatabase? database)
    {
        GatewayUrl = gatewayUrl;
        Tokens = tokens;
        AdminDsn = adminDsn;
        PoolSize = poolSize;
        DatabaseName = new NpgsqlConnectionStringBuilder(adminDsn).Database ?? "postgres";
        _database = database;
    }

    /// <summary>How long a process may take to answer its health check: minutes on a machine shared with other work.</summary>
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(240);

    public string GatewayUrl { get; }
    public ApiTokens Tokens { get; }

    /// <summary>Superuser connection to the system's database.</summary>
    public string AdminDsn { get; }

    public string DatabaseName { get; }

    /// <summary><c>NOETL_POSTGRES_POOL_MAX</c> of each silo: its grain pool and its cluster pool together.</summary>
    public int PoolSize { get; }

    /// <summary>Silos we started (target mode: 1, the one pool <c>--pool</c> describes).</summary>
    public int SiloCount { get; private init; } = 1;

    /// <summary>The most connections the silos may hold between them: each silo's whole pool.</summary>
    public int SiloConnectionBound => SiloCount * PoolSize;

    /// <summary><c>separate</c> or <c>combined</c> (<see cref="BenchOptions.Topologies"/>).</summary>
    public string Hosting { get; private init; } = "separate";

    /// <summary>The Orleans cluster id (<c>deployment_id</c> in <c>orleans.membership</c>); null in target mode.</summary>
    public string? ClusterId { get; private init; }

    /// <summary>The chart's fast-failover settings the silos and gateway run with (several silos only).</summary>
    public HelmFastFailover? FastFailover { get; private init; }

    /// <summary>The silos' own HTTP endpoints (the API's in combined hosting); empty in target mode.</summary>
    public IReadOnlyList<string> SiloUrls { get; private set; } = [];

    /// <summary>Process ids of the silos and gateway we started (none in target mode: CPU is then found by command line).</summary>
    public IReadOnlyList<int> SiloPids { get; private set; } = [];
    public int? GatewayPid { get; private set; }

    /// <param name="hosting"><c>separate</c>: <see cref="BenchOptions.Silos"/> silos and a gateway; <c>combined</c>: one silo serving the API itself.</param>
    public static async Task<SystemUnderTest> StartAsync(BenchOptions options, string hosting, Action<string> log)
    {
        if (options.TargetUrl is not null)
            return new SystemUnderTest(options.TargetUrl, new ApiTokens(options.InternalToken!, options.OperatorToken, options.WorkerToken),
                options.AdminDsn!, options.PoolSize, null)
            { Hosting = hosting };

        await StartPostgresAsync(log);
        var database = await PgTestDatabase.CreateAsync("bench");
        var clusterId = "bench-" + Guid.NewGuid().ToString("N")[..10];
        var gatewayUrl = $"http://127.0.0.1:{ServerProcess.FreePort()}";
        var tokens = new ApiTokens(NewToken(), NewToken(), NewToken());
        var combined = hosting == "combined";
        var failover = options.Silos > 1 ? HelmFastFailover.Read() : null;
        var system = new SystemUnderTest(gatewayUrl, tokens, database.AdminConnectionString, options.PoolSize, database)
        {
            Hosting = hosting,
            ClusterId = clusterId,
            SiloCount = options.Silos,
            FastFailover = failover,
        };
        // Authentication stays on, as in production: an operator principal and the shared worker pool.
        var api = new Dictionary<string, string>
        {
            ["NOETL_INTERNAL_API_TOKEN"] = tokens.Internal,
            ["NOETL_API_TOKENS"] = $$"""
                {"principals": [
                  {"name": "bench-operator", "role": "operator", "token_sha256": "{{Digest(tokens.Operator!)}}"},
                  {"name": "bench-workers", "role": "worker", "pool": "shared", "token_sha256": "{{Digest(tokens.Worker!)}}"}]}
                """,
            ["NOETL_OPERATOR_TOKEN"] = tokens.Operator!,
            ["Logging__LogLevel__Default"] = "Warning",
        };
        if (failover is not null)
            log($"several silos: the Helm chart's fast-failover settings ({failover.Describe()})");
        try
        {
            var silos = new List<(ServerProcess Process, string Url)>();
            for (var number = 1; number <= options.Silos; number++)
            {
                var url = combined ? gatewayUrl : $"http://127.0.0.1:{ServerProcess.FreePort()}";
                var environment = new Dictionary<string, string>((combined ? api : []).Concat(failover?.Silo ?? new Dictionary<string, string>()))
                {
                    ["ConnectionStrings__Noetl"] = database.ServerConnectionString,
                    ["NOETL_CLUSTERING"] = "postgres",
                    ["NOETL_HOSTING"] = hosting,
                    ["ORLEANS_CLUSTER_ID"] = clusterId,
                    ["ORLEANS_SERVICE_ID"] = clusterId,
                    ["ORLEANS_SILO_PORT"] = ServerProcess.FreePort().ToString(),
                    ["ORLEANS_GATEWAY_PORT"] = ServerProcess.FreePort().ToString(),
                    ["ASPNETCORE_URLS"] = url,
                    ["NOETL_POSTGRES_POOL_MAX"] = options.PoolSize.ToString(),
                    ["NOETL_SERVER_URL"] = gatewayUrl, // server_url in command notifications
                    // The memory scenario's forced collections (/diagnostics/memory) answer the operator only.
                    ["NOETL_OPERATOR_TOKEN"] = tokens.Operator!,
                    // A throwaway credential key: the benchmark stores no credentials, but the silo will not start without one.
                    ["NOETL_ENCRYPTION_KEY"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
                    ["Logging__LogLevel__Default"] = "Warning",
                };
                if (options.PendingRetrySeconds is { } pendingRetry)
                    environment["NOETL_COMMAND_REAPER_PENDING_RETRY_SECONDS"] = pendingRetry.ToString();
                var silo = system.Start(options.Silos == 1 ? "silo" : $"silo-{number}", Output("Silo", "NoEtl.Silo"), environment);
                log($"starting {silo.Name} (pid {silo.Pid}, pool {options.PoolSize}, hosting {hosting}) on database {database.DatabaseName}");
                silos.Add((silo, url));
            }
            // Started together, as a deployment's replicas are: the schema migration and node-id allocation serialize themselves.
            await Task.WhenAll(silos.Select(s => s.Process.WaitHealthyAsync(combined ? $"{gatewayUrl}/api/health" : $"{s.Url}/health", StartupTimeout)));
            system.SiloUrls = [.. silos.Select(s => s.Url)];
            system.SiloPids = [.. silos.Select(s => s.Process.Pid)];
            if (combined)
                return system;

            var gateway = system.Start("gateway", Output("ApiGateway", "NoEtl.ApiGateway"), new Dictionary<string, string>(
                api.Concat(failover?.Gateway ?? new Dictionary<string, string>()))
            {
                ["ConnectionStrings__Discovery"] = database.DiscoveryConnectionString,
                ["NOETL_CLUSTERING"] = "postgres",
                ["ORLEANS_CLUSTER_ID"] = clusterId,
                ["ORLEANS_SERVICE_ID"] = clusterId,
                ["ASPNETCORE_URLS"] = gatewayUrl,
            });
            log($"starting gateway (pid {gateway.Pid}) on {gatewayUrl}");
            await gateway.WaitHealthyAsync($"{gatewayUrl}/api/health", StartupTimeout);
            system.GatewayPid = gateway.Pid;
            return system;
        }
        catch
        {
            await system.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Silos of this cluster that <c>orleans.membership</c> records as dead (status 6): voted out by the others, or
    /// stopped. Empty in target mode (no cluster id of our own).
    /// </summary>
    public async Task<List<string>> DeadSilosAsync(NpgsqlDataSource admin)
    {
        if (ClusterId is null)
            return [];
        await using var command = admin.CreateCommand(
            "SELECT address || ':' || port || ' (generation ' || generation || ')' FROM orleans.membership WHERE deployment_id = $1 AND status = 6 ORDER BY 1");
        command.Parameters.AddWithValue(ClusterId);
        var dead = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            dead.Add(reader.GetString(0));
        return dead;
    }

    public string Logs() => string.Join("\n", _processes.Select(p => $"===== {p.Name}\n{p.Tail()}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
            process.Dispose();
        if (_database is not null)
            await _database.DisposeAsync();
    }

    private static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));

    private static string Digest(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private ServerProcess Start(string name, string assembly, Dictionary<string, string> environment)
    {
        var process = ServerProcess.Start(name, assembly, environment);
        _processes.Add(process);
        return process;
    }

    /// <summary>
    /// scripts/pg.sh is idempotent ("already running"); it needs root, so elsewhere we assume a server is up — as we do
    /// when NOETL_PG_ADMIN names one (a shared server the bench must not start or configure).
    /// </summary>
    private static async Task StartPostgresAsync(Action<string> log)
    {
        if (Environment.UserName != "root" || Environment.GetEnvironmentVariable("NOETL_PG_ADMIN") is { Length: > 0 })
        {
            log("assuming PostgreSQL is running (NOETL_PG_ADMIN or 127.0.0.1:55432)");
            return;
        }
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(RepositoryRoot, "scripts", "pg.sh"));
        start.ArgumentList.Add("start");
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"scripts/pg.sh start failed:\n{output}");
    }

    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The deployable built in the same configuration as this program (the csproj references both projects).</summary>
    private static string Output(string project, string assembly)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        return Path.Combine(RepositoryRoot, "src", project, "bin", configuration, "net10.0", assembly + ".dll");
    }

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "NoEtl.sln")))
            directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("NoEtl.sln not found above " + AppContext.BaseDirectory);
    }
}
