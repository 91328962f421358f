using NoEtl.Telemetry;
using NoEtl.Grains.Telemetry;
using Orleans.Dashboard;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace NoEtl.Silo.Telemetry;

/// <summary>Metrics (<c>/metrics</c>), traces (OTLP), log format and the dashboard's data collection of a silo.</summary>
public static class SiloObservability
{
    public static WebApplicationBuilder AddSiloObservability(this WebApplicationBuilder builder, TelemetrySettings settings)
    {
        if (settings.JsonLogs)
            builder.Logging.AddJsonConsole(json =>
            {
                json.IncludeScopes = true;
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });

        // Every silo collects for the dashboard, wherever its UI is served (the gateway's fails without this).
        // Activity propagation carries the caller's trace context across grain calls.
        builder.UseOrleans(silo => silo.AddDashboard().AddActivityPropagation());
        // After AddActivityPropagation: the filter tags the span that Orleans' own filter starts.
        builder.Services.AddSingleton<IIncomingGrainCallFilter, ExecutionTelemetryFilter>();
        builder.Services.AddHostedService<OutboxGauges>();

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(settings.ServiceName, serviceInstanceId: Environment.MachineName + ":" + Environment.ProcessId))
            .WithMetrics(metrics => metrics
                .AddMeter(NoEtlMetrics.MeterName, "Microsoft.Orleans", "Npgsql")
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        if (settings.OtlpEndpoint is not null)
            telemetry.WithTracing(tracing => tracing
                .SetSampler(new ParentBasedSampler(new RequestRootSampler()))
                .AddSource("Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application", "Npgsql")
                .AddAspNetCoreInstrumentation(http => http.Filter = context => !IsOperational(context.Request.Path))
                .AddOtlpExporter()); // endpoint, protocol and headers from the standard OTEL_EXPORTER_OTLP_* variables
        return builder;
    }

    /// <summary>Probes and scrapes would drown the request traces.</summary>
    private static bool IsOperational(PathString path) => path.StartsWithSegments("/metrics") || path.StartsWithSegments("/health");

    public static WebApplication MapSiloObservability(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint(); // /metrics
        return app;
    }
}
