using NoEtl.ApiGateway.Http;
using Orleans.Configuration;

namespace NoEtl.ApiGateway.Hosting;

public static class OrleansClientSetup
{
    public static WebApplicationBuilder AddNoEtlClusterClient(this WebApplicationBuilder builder, GatewaySettings settings)
    {
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.ClusterId;
                o.ServiceId = settings.ServiceId;
            });
            if (settings.GrainResponseTimeout is { } timeout)
                client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = timeout);
            if (settings.UseLocalhostClustering)
            {
                client.UseLocalhostClustering(settings.LocalhostGatewayPort, settings.ServiceId, settings.ClusterId);
            }
            else
            {
                client.UseAdoNetClustering(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = settings.DiscoveryConnectionString;
                });
                // A silo that died is dropped from the gateway list quickly instead of after the default minute.
                client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = settings.GatewayListRefreshPeriod);
            }
            client.AddGatewayCountChangedHandler(services => (_, change) =>
            {
                if (change.NumberOfConnectedGateways >= change.PreviousNumberOfConnectedGateways)
                    return;
                GatewayConnectionMessages.Lost(services.GetRequiredService<ILoggerFactory>().CreateLogger(nameof(GrainFailover)),
                    change.PreviousNumberOfConnectedGateways, change.NumberOfConnectedGateways);
                services.GetRequiredService<GrainFailover>().GatewayLost();
            });
        });
        return builder;
    }
}

internal static partial class GatewayConnectionMessages
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "A gateway connection closed ({Previous} -> {Current} connected): idempotent calls in flight are sent again")]
    public static partial void Lost(ILogger logger, int previous, int current);
}
