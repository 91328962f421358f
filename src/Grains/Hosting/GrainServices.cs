using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using NoEtl.Grains.Catalog;
using NoEtl.Grains.Commands;
using NoEtl.Grains.Executions;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Hosting;

public static class GrainServices
{
    /// <summary>
    /// Everything the grains need from the silo's container. <paramref name="database"/> is the one
    /// process-wide pool: its size bounds the connections this silo holds, whatever the number of workers.
    /// </summary>
    public static IServiceCollection AddNoEtlGrains(
        this IServiceCollection services, NpgsqlDataSource database, ServerOptions options, int snowflakeNode)
    {
        services.AddSingleton(database);
        services.AddSingleton(options);
        services.AddSingleton(options.Limits); // registration and the playbook cache parse within them
        services.AddSingleton(new SnowflakeIds(snowflakeNode));
        services.AddSingleton<PlaybookCache>();
        services.AddSingleton<CommandLocations>();
        services.AddSingleton<TurnWriter>();
        services.AddSingleton<IIncomingGrainCallFilter, GrainExceptionFilter>();
        // Credential encryption: NOETL_ENCRYPTION_KEY or NOETL_ENCRYPTION_KEY_FILE; the check fails start-up without one.
        services.AddSingleton(sp => KeyRing.FromConfiguration(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<ILogger<KeyRing>>()));
        services.AddSingleton(sp => new SecretCipher(sp.GetRequiredService<KeyRing>(), options.AcceptLegacyCredentials));
        services.AddSingleton<LeaseTokens>();
        services.AddHostedService<KeyRingStartupCheck>();
        services.AddHostedService<OrphanedCommandWatch>();
        return services;
    }
}
