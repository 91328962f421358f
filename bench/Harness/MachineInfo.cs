using System.Runtime.InteropServices;
using Npgsql;

namespace NoEtl.Bench.Harness;

/// <summary>The machine and PostgreSQL settings every figure is reported with.</summary>
public sealed record MachineInfo(int Cores, string CpuModel, string Memory, string Os, string Runtime, string PostgresVersion,
    IReadOnlyDictionary<string, string> Settings)
{
    public static readonly string[] SettingNames =
        ["synchronous_commit", "fsync", "wal_sync_method", "full_page_writes", "shared_buffers", "max_connections", "wal_level", "commit_delay"];

    /// <summary>Reported figures are only valid with durable commits.</summary>
    public bool Durable => Settings.GetValueOrDefault("synchronous_commit") == "on" && Settings.GetValueOrDefault("fsync") == "on";

    public static async Task<MachineInfo> ReadAsync(NpgsqlDataSource admin)
    {
        await using var connection = await admin.OpenConnectionAsync();
        await using var version = new NpgsqlCommand("SELECT current_setting('server_version')", connection);
        var pgVersion = (string)(await version.ExecuteScalarAsync())!;
        var settings = new Dictionary<string, string>();
        foreach (var name in SettingNames)
        {
            await using var show = new NpgsqlCommand($"SHOW {name}", connection);
            settings[name] = (string)(await show.ExecuteScalarAsync())!;
        }
        return new MachineInfo(Environment.ProcessorCount, ReadCpuModel(), ReadMemory(), RuntimeInformation.OSDescription,
            RuntimeInformation.FrameworkDescription, pgVersion, settings);
    }

    public string Describe() =>
        $"{Cores} cores ({CpuModel}), {Memory} RAM, {Os}, {Runtime}; PostgreSQL {PostgresVersion} on the same host: "
        + string.Join(", ", Settings.Select(s => $"{s.Key}={s.Value}"));

    private static string ReadCpuModel() =>
        File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
            : "unknown";

    private static string ReadMemory()
    {
        var line = File.Exists("/proc/meminfo") ? File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) : null;
        return line is null ? "unknown" : $"{long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024 / 1024.0:F1} GiB";
    }
}
