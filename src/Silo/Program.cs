using NoEtl.ApiGateway.Hosting;
using NoEtl.Configuration;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Persistence;
using NoEtl.Logging;
using NoEtl.Schema;
using NoEtl.Silo.Catalog;
using NoEtl.Silo.Hosting;
using NoEtl.Silo.Telemetry;
using ApiTelemetrySettings = NoEtl.ApiGateway.Telemetry.TelemetrySettings;

var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddQuietLogDefaults("NoEtl.Silo");
SiloSettings settings;
ServerOptions options;
int? configuredNode;
TimeSpan startupTimeout;
ApiTelemetrySettings? api = null;
try
{
    settings = SiloSettings.From(builder.Configuration);
    options = ServerOptions.FromConfiguration(builder.Configuration);
    configuredNode = ConfigurationValues.OptionalInt(builder.Configuration, "NOETL_SNOWFLAKE_NODE_ID", min: 0, max: 1023);
    startupTimeout = TimeSpan.FromSeconds(ConfigurationValues.Int(builder.Configuration, "NOETL_DB_STARTUP_TIMEOUT_SECONDS", 120));
    if (settings.Hosting == HostingMode.Combined)
    {
        // The API's own settings (principals, limits, operator token, metrics port) apply to this silo's HTTP port.
        api = ApiTelemetrySettings.From(builder.Configuration);
        builder.AddNoEtlApi(GatewaySettings.From(builder.Configuration), api);
    }
}
catch (InvalidOperationException e)
{
    // Refuse to start on a bad setting (the message names it), before touching the database.
    Console.Error.WriteLine($"noetl-silo: configuration error: {e.Message}");
    return 2;
}
var database = settings.CreateDataSource();

// The schema must exist before Orleans starts: membership reads its tables during silo start-up.
var schema = new SchemaOptions { DiscoveryRole = builder.Configuration["NOETL_DISCOVERY_ROLE"] ?? "noetl_gateway" };
int snowflakeNode;
try
{
    await DatabaseStartup.WaitForAsync(() => SchemaMigrator.MigrateAsync(database, schema), startupTimeout, "schema migration");
    snowflakeNode = configuredNode ?? await DatabaseStartup.WaitForAsync(() => SnowflakeNodeIds.AllocateAsync(database), startupTimeout, "snowflake node id");
}
catch (Exception e) when (DatabaseUnavailable.CodeOf(e) is not null)
{
    Console.Error.WriteLine($"noetl-silo: PostgreSQL still unavailable after NOETL_DB_STARTUP_TIMEOUT_SECONDS={startupTimeout.TotalSeconds:0}: {e.Message}");
    return 3;
}

builder.Services.AddNoEtlGrains(database, options, snowflakeNode);
builder.UseOrleans(silo => silo.ConfigureNoEtlCluster(settings));
builder.AddSiloObservability(TelemetrySettings.From(builder.Configuration));
builder.Services.AddHostedService<SystemPlaybookRegistrar>(); // after UseOrleans: starts once the silo runs

var app = builder.Build();
app.MapMemoryDiagnostics();
if (api is not null)
{
    app.MapNoEtlApi(api); // /health, /metrics (operator) and every API route
}
else
{
    app.MapSiloObservability();
    app.MapGet("/health", () => Results.Ok(new { status = "ok" }));
}
app.Run();
return 0;
