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
WorkerOptions options;
try
{
    options = WorkerOptions.FromConfiguration(builder.Configuration);
}
catch (InvalidOperationException e)
{
    // Refuse to start on a bad setting (the message names it) rather than run with a default nobody chose.
    Console.Error.WriteLine($"noetl-worker: configuration error: {e.Message}");
    return 2;
}
builder.Services.AddNoEtlWorker(options, builder.Configuration);
await builder.Build().RunAsync();
return 0;
