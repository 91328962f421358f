using NoEtl.Grains.Hosting;
using NoEtl.Logging;
using NoEtl.Schema;
using NoEtl.Silo.Catalog;
using NoEtl.Silo.Hosting;
using NoEtl.Silo.Telemetry;

var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddQuietLogDefaults("NoEtl.Silo");
var settings = SiloSettings.From(builder.Configuration);
var database = settings.CreateDataSource();

// The schema must exist before Orleans starts: membership reads its tables during silo start-up.
await SchemaMigrator.MigrateAsync(database, new SchemaOptions { DiscoveryRole = builder.Configuration["NOETL_DISCOVERY_ROLE"] ?? "noetl_gateway" });
var snowflakeNode = int.TryParse(builder.Configuration["NOETL_SNOWFLAKE_NODE_ID"], out var configuredNode)
    ? configuredNode
    : await SnowflakeNodeIds.AllocateAsync(database);

builder.Services.AddNoEtlGrains(database, ServerOptions.FromConfiguration(builder.Configuration), snowflakeNode);
builder.UseOrleans(silo => silo.ConfigureNoEtlCluster(settings));
builder.AddSiloObservability(TelemetrySettings.From(builder.Configuration));
builder.Services.AddHostedService<SystemPlaybookRegistrar>(); // after UseOrleans: starts once the silo runs

var app = builder.Build();
app.MapSiloObservability();
app.MapGet("/health", () => Results.Ok(new { status = "ok" }));
app.Run();
