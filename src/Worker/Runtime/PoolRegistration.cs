using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NoEtl.Worker.Runtime;

/// <summary>
/// Worker-pool presence in the server's runtime registry: register at start (retrying until the server is up),
/// heartbeat every WORKER_HEARTBEAT_INTERVAL (re-registering if the server forgot us: heartbeat 404), and
/// deregister on shutdown. The server's claim policy reclaims commands of workers whose heartbeat goes stale.
/// Registered first so the host stops it last, after the consumer has drained.
/// </summary>
public sealed class PoolRegistration(ServerClient server, WorkerOptions options, ILogger<PoolRegistration> logger) : BackgroundService
{
    private volatile bool _registered;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (!await RegisterAsync(stoppingToken))
        {
            await Task.Delay(delay, stoppingToken);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
        }

        using var timer = new PeriodicTimer(options.HeartbeatInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var response = await server.PostAsync(Url("heartbeat"), new JsonObject { ["name"] = options.WorkerId }, stoppingToken);
                if (response.Status == 404)
                {
                    logger.LogWarning("Server does not know worker {WorkerId}; registering again", options.WorkerId);
                    await RegisterAsync(stoppingToken);
                }
                else if (!response.IsSuccess)
                {
                    logger.LogWarning("Heartbeat returned HTTP {Status}", response.Status);
                }
            }
            catch (HttpRequestException ex)
            {
                logger.LogWarning("Heartbeat failed: {Error}", ex.Message);
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (!_registered)
        {
            return;
        }
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            var response = await server.PostAsync(Url("deregister"), new JsonObject { ["name"] = options.WorkerId, ["component_type"] = "worker_pool" }, timeout.Token);
            logger.LogInformation("Deregistered worker {WorkerId} (HTTP {Status})", options.WorkerId, response.Status);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            logger.LogWarning("Deregister failed: {Error}; the server's sweeper will mark us offline", ex.Message);
        }
    }

    private async Task<bool> RegisterAsync(CancellationToken ct)
    {
        var body = new JsonObject
        {
            ["name"] = options.WorkerId,
            ["component_type"] = "worker_pool",
            ["runtime"] = "dotnet",
            ["status"] = "ready",
            ["hostname"] = Environment.MachineName,
            ["pid"] = Environment.ProcessId,
            ["capacity"] = options.MaxConcurrent,
            ["labels"] = new JsonObject { ["pool_name"] = options.Pool },
        };
        try
        {
            var response = await server.PostAsync(Url("register"), body, ct);
            if (response.IsSuccess)
            {
                _registered = true;
                logger.LogInformation("Registered worker {WorkerId} in pool {Pool} with {Server}", options.WorkerId, options.Pool, server.Url(""));
                return true;
            }
            logger.LogWarning("Register returned HTTP {Status}", response.Status);
        }
        catch (HttpRequestException ex)
        {
            logger.LogWarning("Register failed: {Error}", ex.Message);
        }
        return false;
    }

    private string Url(string action) => server.Url($"/api/worker/pool/{action}");
}
