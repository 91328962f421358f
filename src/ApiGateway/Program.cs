using NoEtl.ApiGateway.Catalog;
using NoEtl.ApiGateway.Commands;
using NoEtl.ApiGateway.Events;
using NoEtl.ApiGateway.Executions;
using NoEtl.ApiGateway.Health;
using NoEtl.ApiGateway.Hosting;
using NoEtl.ApiGateway.Http;
using NoEtl.ApiGateway.Internal;
using NoEtl.ApiGateway.Runtime;

var builder = WebApplication.CreateBuilder(args);
builder.AddNoEtlClusterClient(GatewaySettings.From(builder.Configuration));
builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 16 * 1024 * 1024);
builder.Services.AddCors(cors => cors.AddDefaultPolicy(policy => policy.AllowAnyOrigin().AllowAnyHeader().AllowAnyMethod()));

var app = builder.Build();
app.UseContractErrors();
app.UseCors();
app.MapHealthEndpoints();
app.MapCatalogEndpoints();
app.MapExecutionEndpoints();
app.MapCommandEndpoints();
app.MapEventEndpoints();
app.MapWorkerPoolEndpoints();
app.MapInternalEndpoints();
app.Run();
