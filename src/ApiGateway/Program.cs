using NoEtl.ApiGateway.Auth;
using NoEtl.ApiGateway.Hosting;
using NoEtl.ApiGateway.Http;
using NoEtl.ApiGateway.Telemetry;
using NoEtl.Logging;

var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddQuietLogDefaults();
var gatewaySettings = GatewaySettings.From(builder.Configuration);
builder.AddNoEtlClusterClient(gatewaySettings);
builder.Services.AddSingleton(new GrainFailover(gatewaySettings.FailoverAttempts, gatewaySettings.FailoverAttemptTimeout));
builder.AddApiAuthentication();
var telemetry = TelemetrySettings.From(builder.Configuration);
builder.AddGatewayObservability(telemetry);
var requestLimits = RequestLimits.From(builder.Configuration);
builder.Services.AddSingleton(requestLimits);
builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = requestLimits.MaxBodyBytes);
builder.Services.ConfigureHttpJsonOptions(json => GatewayJson.Configure(json.SerializerOptions));
builder.Services.AddCors(cors => cors.AddDefaultPolicy(policy => policy.AllowAnyOrigin().AllowAnyHeader().AllowAnyMethod()));

var app = builder.Build();
app.UseErrorBodies();
app.UseContractErrors();
app.UseCors();
app.UseApiAuthentication();
app.UseRequestTargetLimits();
app.MapNoEtlApi();
app.MapGatewayObservability(telemetry);
app.Run();

/// <summary>The gateway's entry point, named so that in-process tests can host it (WebApplicationFactory).</summary>
public partial class Program;
