using NoEtl.Grains.Watchdog;
using Orleans.Configuration;
using Orleans.Hosting;

namespace NoEtl.Silo.Hosting;

public static class SiloHosting
{
    /// <summary>Clustering, endpoints and reminders for the chosen mode; the grains' own services are added separately.</summary>
    public static ISiloBuilder ConfigureNoEtlCluster(this ISiloBuilder silo, SiloSettings settings)
    {
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = settings.ClusterId;
            o.ServiceId = settings.ServiceId;
        });

        // Execution reminders may tick faster than Orleans' default minimum of one minute.
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(Math.Min(60, settings.ReminderPeriodSeconds)));
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            if (settings.ProbeTimeoutSeconds is { } probe)
                o.ProbeTimeout = TimeSpan.FromSeconds(Math.Max(1, probe));
            if (settings.MissedProbesLimit is { } missed)
                o.NumMissedProbesLimit = Math.Max(1, missed);
            if (settings.MaxProbeTimeoutSeconds is { } longest)
                o.MaxProbeTimeout = TimeSpan.FromSeconds(Math.Max(1, longest));
            if (settings.TableRefreshSeconds is { } refresh)
                o.TableRefreshTimeout = TimeSpan.FromSeconds(Math.Max(1, refresh));
        });

        silo.AddDatabaseWatchdog(
            new DatabaseWatchdogOptions(TimeSpan.FromSeconds(settings.DatabaseWatchdogSeconds), TimeSpan.FromSeconds(settings.DatabaseWatchdogProbeSeconds)),
            settings.ClusterConnectionString);

        if (settings.Clustering == ClusteringMode.Localhost)
        {
            silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, serviceId: settings.ServiceId, clusterId: settings.ClusterId);
            silo.UseInMemoryReminderService();
            return silo;
        }

        silo.UseAdoNetClustering(o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = settings.ClusterConnectionString;
        });
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = settings.ClusterConnectionString;
        });

        if (settings.Clustering == ClusteringMode.Kubernetes)
            silo.UseKubernetesHosting(); // pod name/IP and ids from the downward API; membership stays on PostgreSQL
        else
            silo.ConfigureEndpoints(settings.AdvertisedAddress, settings.SiloPort, settings.GatewayPort);
        return silo;
    }
}
