using System.Diagnostics;
using Npgsql;

namespace NoEtl.Bench.Harness;

/// <summary>What the machine did during a phase: database connections by role, where the CPU went, database work.</summary>
/// <param name="SiloConnectionBound">The silos' pools together (<see cref="SystemUnderTest.SiloConnectionBound"/>).</param>
/// <param name="DeadSilos">Silos of the cluster recorded dead once the phase ended; null with one silo (not checked).</param>
public sealed record PhaseResources(
    int ServerConnectionsMax,
    int SiloConnectionBound,
    IReadOnlyDictionary<string, int> ConnectionsMaxByRole,
    IReadOnlyList<(string Group, double Percent)> Cpu,
    DatabaseWork Database,
    double WindowSeconds,
    IReadOnlyList<string>? DeadSilos);

/// <summary>
/// <c>pg_stat_database</c> counters of the system's database over the window. Every statement outside an explicit
/// transaction counts as a commit, reads included; backends publish their counters about once a second.
/// </summary>
public sealed record DatabaseWork(long Commits, long Inserted, long Updated)
{
    public static DatabaseWork operator -(DatabaseWork end, DatabaseWork start) =>
        new(end.Commits - start.Commits, end.Inserted - start.Inserted, end.Updated - start.Updated);
}

/// <summary>
/// Samples <c>pg_stat_activity</c> of the system's database every 200 ms through the whole phase, and CPU ticks of
/// the processes involved (from /proc) and the database's counters at the start and end of its measured window
/// (or when the phase ends, if sooner).
/// The silo role's connections must stay within the silos' pools. PostgreSQL's parallel query workers carry their
/// leader's role and application name but are no connection of any pool: they are listed apart and not counted.
/// With several silos, the membership table is read when the phase ends for silos declared dead.
/// </summary>
public sealed class PhaseMonitor : IAsyncDisposable
{
    private const string ServerRole = "noetl_server";
    private readonly SystemUnderTest _system;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, int> _maxByRole = [];
    private readonly Task _sampling;
    private readonly NpgsqlDataSource _monitor;
    private readonly Task<(List<(string Group, double Percent)> Cpu, DatabaseWork Database, double Seconds)> _window;
    private int _serverMax;

    private PhaseMonitor(SystemUnderTest system, NpgsqlDataSource monitor, double warmupSeconds, double durationSeconds)
    {
        _system = system;
        _monitor = monitor;
        _sampling = SampleAsync();
        _window = MeasureWindowAsync(warmupSeconds, durationSeconds);
    }

    public static PhaseMonitor Start(SystemUnderTest system, NpgsqlDataSource monitor, double warmupSeconds, double durationSeconds) =>
        new(system, monitor, warmupSeconds, durationSeconds);

    public async Task<PhaseResources> StopAsync()
    {
        _stop.Cancel();
        await _sampling;
        var (cpu, database, seconds) = await _window;
        var dead = _system.SiloCount > 1 ? await _system.DeadSilosAsync(_monitor) : null;
        lock (_maxByRole)
            return new PhaseResources(_serverMax, _system.SiloConnectionBound, new Dictionary<string, int>(_maxByRole), cpu, database, seconds, dead);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _sampling;
        await _window;
        _stop.Dispose();
    }

    private async Task<(List<(string Group, double Percent)>, DatabaseWork, double)> MeasureWindowAsync(double warmupSeconds, double durationSeconds)
    {
        try { await Task.Delay(TimeSpan.FromSeconds(warmupSeconds), _stop.Token); }
        catch (OperationCanceledException) { return ([], new DatabaseWork(0, 0, 0), 0); }
        var started = Stopwatch.GetTimestamp();
        var cpu = CpuTicks.Read(_system);
        var database = await ReadDatabaseWorkAsync();
        try { await Task.Delay(TimeSpan.FromSeconds(durationSeconds), _stop.Token); }
        catch (OperationCanceledException) { }
        return (CpuTicks.Share(cpu, CpuTicks.Read(_system)), await ReadDatabaseWorkAsync() - database, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private async Task<DatabaseWork> ReadDatabaseWorkAsync()
    {
        await using var command = _monitor.CreateCommand(
            "SELECT xact_commit, tup_inserted, tup_updated FROM pg_stat_database WHERE datname = $1");
        command.Parameters.AddWithValue(_system.DatabaseName);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new DatabaseWork(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    private async Task SampleAsync()
    {
        try
        {
            await using var connection = await _monitor.OpenConnectionAsync(_stop.Token);
            await using var query = new NpgsqlCommand(
                """
                SELECT coalesce(usename, backend_type) || ' / ' || coalesce(nullif(application_name, ''), '-')
                           || CASE WHEN backend_type = 'parallel worker' THEN ' (parallel workers)' ELSE '' END,
                       usename IS NOT DISTINCT FROM $2 AND backend_type = 'client backend', count(*)::int
                  FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name NOT LIKE 'noetl-bench%'
                 GROUP BY 1, 2
                """, connection);
            query.Parameters.AddWithValue(_system.DatabaseName);
            query.Parameters.AddWithValue(ServerRole);
            while (!_stop.IsCancellationRequested)
            {
                var server = 0;
                await using (var reader = await query.ExecuteReaderAsync(_stop.Token))
                {
                    while (await reader.ReadAsync(_stop.Token))
                    {
                        var count = reader.GetInt32(2);
                        if (reader.GetBoolean(1))
                            server += count;
                        lock (_maxByRole)
                            _maxByRole[reader.GetString(0)] = Math.Max(count, _maxByRole.GetValueOrDefault(reader.GetString(0)));
                    }
                }
                _serverMax = Math.Max(_serverMax, server);
                await Task.Delay(200, _stop.Token);
            }
        }
        catch (OperationCanceledException) { }
    }
}

/// <summary>CPU ticks from /proc, grouped by the part of the system that spent them.</summary>
public static class CpuTicks
{
    private const string Total = "(total)";
    private const string Idle = "(idle)";
    private const string Interrupts = "(irq)";

    /// <summary>Ticks so far per group; pids are kept apart so processes born during the phase count from zero.</summary>
    public static Dictionary<string, long> Read(SystemUnderTest system)
    {
        var ticks = new Dictionary<string, long>();
        if (!File.Exists("/proc/stat"))
            return ticks;
        var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
        ticks[Total] = cpu.Take(8).Sum(); // user nice system idle iowait irq softirq steal
        ticks[Idle] = cpu[3] + cpu[4];
        ticks[Interrupts] = cpu[5] + cpu[6]; // not charged to any process (loopback networking lands partly here)
        var self = Environment.ProcessId;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
                continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var used = long.Parse(fields[11]) + long.Parse(fields[12]); // utime, stime
                if (used == 0)
                    continue;
                var group = Group(pid, self, File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' '), system);
                ticks[$"{group}|{pid}"] = used;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { } // the process ended
        }
        return ticks;
    }

    /// <summary>Each group's share of the machine (all cores = 100%) between two readings, largest first.</summary>
    public static List<(string Group, double Percent)> Share(Dictionary<string, long> start, Dictionary<string, long> end)
    {
        var elapsed = end.GetValueOrDefault(Total) - start.GetValueOrDefault(Total);
        if (elapsed <= 0)
            return [];
        var groups = end.Where(e => e.Key.Contains('|'))
            .GroupBy(e => e.Key[..e.Key.IndexOf('|')], e => e.Value - start.GetValueOrDefault(e.Key))
            .ToDictionary(g => g.Key, g => Math.Max(0, g.Sum()));
        var busy = elapsed - (end[Idle] - start[Idle]);
        groups["kernel irq"] = end[Interrupts] - start[Interrupts];
        groups["other processes"] = Math.Max(0, busy - groups.Where(g => g.Key != "other processes").Sum(g => g.Value));
        groups["idle"] = end[Idle] - start[Idle];
        return [.. groups.Where(g => g.Value > 0).Select(g => (g.Key, 100.0 * g.Value / elapsed)).OrderByDescending(g => g.Item2)];
    }

    private static string Group(int pid, int self, string commandLine, SystemUnderTest system)
    {
        if (pid == self)
            return "bench";
        // Every silo of the cluster counts as "silo": the figure is the cluster's, whatever the number of silos.
        var targetMode = system.SiloPids.Count == 0;
        if (system.SiloPids.Contains(pid) || targetMode && commandLine.Contains("NoEtl.Silo.dll"))
            return "silo";
        // Only in target mode (no pids of our own) is a process found by its command line; a combined system has no gateway.
        if (pid == system.GatewayPid || targetMode && commandLine.Contains("NoEtl.ApiGateway.dll"))
            return "gateway";
        // Backend titles read "postgres: <user> <database> <client> <state>"; the rest are PostgreSQL's own processes.
        if (commandLine.StartsWith("postgres: ", StringComparison.Ordinal))
            return commandLine.Contains($" {system.DatabaseName} ") ? "postgres backends" : IsAuxiliary(commandLine) ? "postgres wal/bg" : "other processes";
        return "other processes";
    }

    private static bool IsAuxiliary(string commandLine) =>
        new[] { "walwriter", "checkpointer", "background writer", "autovacuum", "logical replication", "stats", "io worker", "walsummarizer" }
            .Any(commandLine.Contains);
}
