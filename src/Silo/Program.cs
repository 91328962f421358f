using NoEtl.Configuration;
using NoEtl.Grains.Hosting;
using NoEtl.Logging;
using NoEtl.Schema;
using NoEtl.Silo.Catalog;
using NoEtl.Silo.Hosting;
using NoEtl.Silo.Telemetry;

var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddQuietLogDefaults("NoEtl.Silo");
SiloSettings settings;
ServerOptions options;
int? configuredNode;
try
{
    settings = SiloSettings.From(builder.Configuration);
    options = ServerOptions.FromConfiguration(builder.Configuration);
    configuredNode = ConfigurationValues.OptionalInt(builder.Configuration, "NOETL_SNOWFLAKE_NODE_ID", min: 0, max: 1023);
}
catch (InvalidOperationException e)
{
    // Refuse to start on a bad setting (the message names it), before touching the database.
    Console.Error.WriteLine($"noetl-silo: configuration error: {e.Message}");
    return 2;
}
var database = settings.CreateDataSource();

// The schema must exist before Orleans starts: membership reads its tables during silo start-up.
await SchemaMigrator.MigrateAsync(database, new SchemaOptions { DiscoveryRole = builder.Configuration["NOETL_DISCOVERY_ROLE"] ?? "noetl_gateway" });
var snowflakeNode = configuredNode ?? await SnowflakeNodeIds.AllocateAsync(database);

builder.Services.AddNoEtlGrains(database, options, snowflakeNode);
builder.UseOrleans(silo => silo.ConfigureNoEtlCluster(settings));
builder.AddSiloObservability(TelemetrySettings.From(builder.Configuration));
builder.Services.AddHostedService<SystemPlaybookRegistrar>(); // after UseOrleans: starts once the silo runs

var app = builder.Build();
app.MapSiloObservability();
app.MapGet("/health", () => Results.Ok(new { status = "ok" }));
app.Run();
return 0;
