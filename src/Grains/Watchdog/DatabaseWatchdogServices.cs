using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace NoEtl.Grains.Watchdog;

public static class DatabaseWatchdogServices
{
    /// <summary>
    /// The per-silo probe grain (every silo answers its peers, whatever its own watchdog setting) and, unless
    /// <see cref="DatabaseWatchdogOptions.StopAfter"/> is zero, this silo's watchdog. <paramref name="connectionString"/>
    /// is the Orleans providers' (see <see cref="DatabaseProbe"/>).
    /// </summary>
    public static ISiloBuilder AddDatabaseWatchdog(this ISiloBuilder silo, DatabaseWatchdogOptions options, string connectionString)
    {
        silo.AddPlacementDirector<OnKeyedSiloPlacement, OnKeyedSiloPlacementDirector>();
        silo.Services.AddSingleton(new DatabaseProbe(connectionString, options.ProbeInterval));
        if (options.StopAfter > TimeSpan.Zero)
        {
            silo.Services.TryAddSingleton(TimeProvider.System);
            silo.Services.AddSingleton(options);
            silo.Services.AddHostedService<DatabaseWatchdog>();
        }
        return silo;
    }
}
