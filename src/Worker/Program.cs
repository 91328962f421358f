using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NoEtl.Logging;
using NoEtl.Worker.Runtime;
using NoEtl.Worker.Telemetry;

// NoETL reference worker: HTTP to the control plane, JetStream for notifications. `--pool shared|system`
// (or NOETL_WORKER_POOL) picks the pool; everything else comes from the NoETL env names (WorkerOptions).
var builder = Host.CreateApplicationBuilder(args);
builder.Configuration.AddQuietLogDefaults("NoEtl.Worker.Runtime");
builder.Logging.AddSimpleConsole(console =>
{
    console.IncludeScopes = true;
    console.SingleLine = true;
    console.TimestampFormat = "HH:mm:ss.fff ";
});
builder.AddWorkerTelemetry();
var options = WorkerOptions.FromConfiguration(builder.Configuration);
builder.Services.AddNoEtlWorker(options, builder.Configuration);
await builder.Build().RunAsync();
