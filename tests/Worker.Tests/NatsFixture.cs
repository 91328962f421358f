using System.Diagnostics;
using NATS.Client.Core;
using NATS.Net;

namespace NoEtl.Worker.Tests;

/// <summary>
/// A real JetStream server: NATS_URL if it answers, else the repo's scripts/nats.sh starts one (installing
/// nats-server with apt-get when missing) and stops it again afterwards. Tests fail loudly rather than skip
/// when neither works.
/// </summary>
public sealed class NatsFixture : IAsyncLifetime
{
    public string Url { get; } = Environment.GetEnvironmentVariable("NATS_URL") is { Length: > 0 } url ? url : "nats://127.0.0.1:14222";

    public NatsConnection Connection { get; private set; } = null!;

    private bool _startedServer;

    public async Task InitializeAsync()
    {
        if (!await CanConnectAsync())
        {
            await RunScriptAsync("start");
            _startedServer = true;
        }
        Connection = new NatsConnection(new NatsOpts { Url = Url, SerializerRegistry = NatsClientDefaultSerializerRegistry.Default });
        await Connection.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        await Connection.DisposeAsync();
        if (_startedServer)
        {
            await RunScriptAsync("stop");
        }
    }

    private async Task<bool> CanConnectAsync()
    {
        await using var probe = new NatsConnection(new NatsOpts { Url = Url });
        try
        {
            await probe.ConnectAsync();
            return true;
        }
        catch (NatsException)
        {
            return false;
        }
    }

    private static async Task RunScriptAsync(string verb)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "scripts", "nats.sh")))
        {
            dir = dir.Parent;
        }
        if (dir is null)
        {
            throw new InvalidOperationException("NATS is not reachable and scripts/nats.sh was not found");
        }
        using var script = Process.Start(new ProcessStartInfo("bash", [Path.Combine(dir.FullName, "scripts", "nats.sh"), verb])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stderr = script.StandardError.ReadToEndAsync();
        await script.WaitForExitAsync();
        if (script.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/nats.sh {verb} failed: {await stderr}");
        }
    }
}

[CollectionDefinition("nats")]
public sealed class NatsCollection : ICollectionFixture<NatsFixture>;
