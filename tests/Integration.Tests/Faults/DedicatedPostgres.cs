using System.Diagnostics;
using System.Net.Sockets;
using Npgsql;

namespace NoEtl.Integration.Tests.Faults;

/// <summary>
/// A PostgreSQL cluster of one test, on its own port and data directory (initdb as the postgres OS user, as
/// scripts/pg.sh does), so a test can stop and restart "the database" without touching the shared server
/// other tests use.
/// </summary>
public sealed class DedicatedPostgres : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _data;

    private readonly string? _networkNamespace;

    private DedicatedPostgres(string bin, string data, int port, string host, string? networkNamespace)
    {
        _bin = bin;
        _data = data;
        Port = port;
        Host = host;
        _networkNamespace = networkNamespace;
    }

    public int Port { get; }

    /// <summary>The address the server listens on.</summary>
    public string Host { get; }

    public string AdminConnectionString => $"Host={Host};Port={Port};Username=postgres;Password=postgres;Database=postgres";

    /// <param name="listenAddress">Where the server listens; another address than loopback also admits clients of its subnet.</param>
    /// <param name="networkNamespace">The network namespace the server runs in (null: the host's).</param>
    public static async Task<DedicatedPostgres> StartAsync(string listenAddress = "127.0.0.1", string? networkNamespace = null)
    {
        var initdb = Directory.GetDirectories("/usr/lib/postgresql").Select(v => Path.Combine(v, "bin", "initdb")).Where(File.Exists).Order().LastOrDefault()
            ?? throw new InvalidOperationException("PostgreSQL binaries not found under /usr/lib/postgresql (run scripts/pg.sh start once)");
        // Data in memory where there is a tmpfs: the fault and partition suites measure failover, and a stall of the
        // machine's disk (one partition run had 10 s in which commits and the silos' membership heartbeats waited while
        // reads answered) would read as failover time.
        var root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        var data = Path.Combine(root, $"noetl-fault-pg-{Guid.NewGuid():N}");
        var cluster = new DedicatedPostgres(Path.GetDirectoryName(initdb)!, data, Infrastructure.ProcessHost.FreePort(), listenAddress, networkNamespace);
        await RunAsync("install", "-d", "-o", "postgres", "-g", "postgres", "-m", "700", data);
        var password = Path.Combine(Path.GetTempPath(), $"noetl-fault-pw-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(password, "postgres\n");
        await RunAsync("chown", "postgres", password);
        await cluster.AsPostgresAsync($"'{initdb}' -D '{data}' -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 --pwfile='{password}'");
        File.Delete(password);
        await File.AppendAllTextAsync(Path.Combine(data, "postgresql.conf"), $"""

            listen_addresses = '{listenAddress}'
            port = {cluster.Port}
            unix_socket_directories = '{data}'
            max_connections = 200
            shared_buffers = 64MB
            """);
        if (listenAddress != "127.0.0.1")
            await File.AppendAllTextAsync(Path.Combine(data, "pg_hba.conf"), "\nhost all all samenet scram-sha-256\n");
        await cluster.StartServerAsync();
        return cluster;
    }

    /// <summary>Starts the server again (after <see cref="StopAsync"/>) and waits until it accepts connections.</summary>
    public async Task StartServerAsync()
    {
        await AsPostgresAsync($"'{_bin}/pg_ctl' -D '{_data}' -l '{_data}/server.log' -w -t 60 start");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(Host, Port);
                // Connections this process pooled before a restart died with the server; do not hand them out.
                NpgsqlConnection.ClearAllPools();
                return;
            }
            catch (SocketException) { await Task.Delay(100); }
        }
        throw new TimeoutException($"dedicated PostgreSQL on {Port} did not come up");
    }

    /// <summary>Stops the server: <c>immediate</c> is a crash (no checkpoint, clients cut), <c>fast</c> a clean stop.</summary>
    public Task StopAsync(string mode = "immediate") => AsPostgresAsync($"'{_bin}/pg_ctl' -D '{_data}' -m {mode} -w stop");

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(); }
        catch (InvalidOperationException) { } // already stopped
        Directory.Delete(_data, recursive: true);
    }

    private Task AsPostgresAsync(string command) => _networkNamespace is null
        ? RunAsync("su", "postgres", "-s", "/bin/sh", "-c", command)
        : RunAsync("ip", "netns", "exec", _networkNamespace, "su", "postgres", "-s", "/bin/sh", "-c", command);

    private static async Task RunAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {process.ExitCode}: {await output}{await error}");
    }
}
