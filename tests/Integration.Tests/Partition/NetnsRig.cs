using System.Diagnostics;
using System.Globalization;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests.Partition;

/// <summary>A "machine" of the rig: network namespace <c>nx-{Name}</c> with its own address.</summary>
public sealed record RigHost(string Name, string Address)
{
    public string Namespace => "nx-" + Name;
}

/// <summary>
/// A cluster of machines on one box, driven through scripts/netns-rig.sh (the single place that knows how): one
/// network namespace per process on the bridge nxbr0, addresses in 10.231.0.0/16, links between two namespaces cut,
/// made lossy or restored. Creating a rig removes any leftover of an earlier run; disposing it removes every nx*
/// namespace and link, killing what still runs in them. Needs root, iproute2 and iptables.
/// </summary>
public sealed class NetnsRig : IAsyncDisposable
{
    /// <summary>The bridge's own address: where the test process is seen from the namespaces.</summary>
    public const string HostAddress = "10.231.0.1";

    private readonly Dictionary<string, RigHost> _hosts = [];

    private NetnsRig() { }

    public static async Task<NetnsRig> UpAsync()
    {
        await RunAsync("up");
        return new NetnsRig();
    }

    /// <summary>The address plan: PostgreSQL 10.231.0.2, silo n 10.231.1.n, gateway n 10.231.2.n.</summary>
    public static string SiloAddress(int number) => $"10.231.1.{number}";

    public static string GatewayAddress(int number) => $"10.231.2.{number}";

    public const string PostgresAddress = "10.231.0.2";

    public RigHost this[string name] => _hosts[name];

    public async Task<RigHost> AddAsync(string name, string address)
    {
        await RunAsync("add", name, address);
        var host = new RigHost(name, address);
        _hosts[name] = host;
        return host;
    }

    /// <summary>Drops every packet between the two machines, both directions.</summary>
    public Task CutAsync(string a, string b) => RunAsync("cut", a, b);

    public Task HealAsync(string a, string b) => RunAsync("heal", a, b);

    /// <summary>Drops <paramref name="percent"/> % of the packets between the two machines at random.</summary>
    public Task LossyAsync(string a, string b, double percent) => RunAsync("lossy", a, b, percent.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// Adds <paramref name="milliseconds"/> each way to <paramref name="a"/>'s TCP connections to <paramref name="b"/>
    /// on <paramref name="port"/> (a user-space relay in a's namespace: this kernel has no netem).
    /// </summary>
    public Task DelayAsync(string a, string b, int port, int milliseconds) =>
        RunAsync("delay", a, b, port.ToString(CultureInfo.InvariantCulture), milliseconds.ToString(CultureInfo.InvariantCulture));

    public Task ClearAsync(string a, string b) => RunAsync("clear", a, b);

    public ValueTask DisposeAsync() => new(RunAsync("down"));

    private static async Task RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(BuildOutput.RepositoryRoot, "scripts", "netns-rig.sh"));
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"netns-rig.sh {string.Join(' ', arguments)} exited {process.ExitCode}: {await output}{await error}");
    }
}
