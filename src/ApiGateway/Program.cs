using NoEtl.ApiGateway.Hosting;
using NoEtl.ApiGateway.Telemetry;
using NoEtl.Logging;

var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddQuietLogDefaults();
var gatewaySettings = GatewaySettings.From(builder.Configuration);
var telemetry = TelemetrySettings.From(builder.Configuration);
builder.AddNoEtlClusterClient(gatewaySettings);
builder.AddNoEtlApi(gatewaySettings, telemetry);
builder.AddGatewayObservability(telemetry);

var app = builder.Build();
app.MapNoEtlApi(telemetry);
app.Run();

/// <summary>The gateway's entry point, named so that in-process tests can host it (WebApplicationFactory).</summary>
public partial class Program;
