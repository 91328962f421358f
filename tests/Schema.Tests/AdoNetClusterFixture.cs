using Microsoft.Extensions.Configuration;
using NoEtl.TestSupport;
using Npgsql;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace NoEtl.Schema.Tests;

/// <summary>
/// A two-silo TestCluster whose clustering, grain storage and reminders run on our migration's
/// tables, and whose client discovers gateways as the discovery role. The database runs with a
/// non-UTC time zone so that timestamp mistakes (contract G10) show.
/// </summary>
public sealed class AdoNetClusterFixture : IAsyncLifetime
{
    // Configurators are constructed by type (parameterless), so they read the settings from here.
    private static string? s_serverConnectionString;
    private static string? s_discoveryConnectionString;

    public PgTestDatabase Database { get; private set; } = null!;

    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Database = await PgTestDatabase.CreateAsync("orleans");
        await using (var admin = new NpgsqlConnection(Database.MaintenanceConnectionString))
        {
            await admin.OpenAsync();
            await using var timeZone = new NpgsqlCommand($"ALTER DATABASE \"{Database.DatabaseName}\" SET timezone = 'Europe/Paris'", admin);
            await timeZone.ExecuteNonQueryAsync();
        }

        s_serverConnectionString = Database.ServerConnectionString;
        s_discoveryConnectionString = Database.DiscoveryConnectionString;

        var builder = new TestClusterBuilder(initialSilosCount: 2);
        builder.Options.UseTestClusterMembership = false;
        builder.Options.ConnectionTransport = ConnectionTransportType.TcpSocket;
        builder.Options.ConfigureFileLogging = false;
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        await Database.DisposeAsync();
    }

    public sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            var connectionString = s_serverConnectionString!;
            siloBuilder
                .UseAdoNetClustering(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = connectionString;
                })
                .AddAdoNetGrainStorage("Default", o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = connectionString;
                })
                .UseAdoNetReminderService(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = connectionString;
                })
                .Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
        }
    }

    public sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = s_discoveryConnectionString!;
            });
    }
}
