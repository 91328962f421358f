using NoEtl.ApiGateway.Auth;
using NoEtl.Telemetry;
using Orleans.Dashboard;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace NoEtl.ApiGateway.Telemetry;

/// <summary>
/// Metrics (<c>/metrics</c>), traces (OTLP), log format, the OpenAPI document and the operator-only dashboard of the
/// gateway. The dashboard UI is served here rather than by silos: the gateway is already the one HTTP ingress, so
/// the operator credential is checked in one place and the silos' HTTP ports stay internal (health and metrics).
/// </summary>
public static class GatewayObservability
{
    public const string DashboardPrefix = "/dashboard";

    public static WebApplicationBuilder AddGatewayObservability(this WebApplicationBuilder builder, TelemetrySettings settings)
    {
        if (settings.JsonLogs)
            builder.Logging.AddJsonConsole(json =>
            {
                json.IncludeScopes = true;
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });

        // Adds to the client configured by AddNoEtlClusterClient: trace context travels with grain calls; the
        // dashboard's UI reads the silos' collectors through the cluster.
        builder.UseOrleansClient(client => client.AddActivityPropagation().AddDashboard());

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(settings.ServiceName, serviceInstanceId: Environment.MachineName + ":" + Environment.ProcessId))
            .WithMetrics(metrics => metrics
                .AddMeter("Microsoft.Orleans")
                .AddAspNetCoreInstrumentation() // http.server.request.duration by http.route and status
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        if (settings.OtlpEndpoint is not null)
            telemetry.WithTracing(tracing => tracing
                .SetSampler(new ParentBasedSampler(new RequestRootSampler()))
                .AddSource("Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application")
                // Scrapes, probes and the dashboard's one-second polling would drown the request traces.
                .AddAspNetCoreInstrumentation(http => http.Filter = context => !IsOperational(context.Request.Path))
                .AddOtlpExporter()); // endpoint, protocol and headers from the standard OTEL_EXPORTER_OTLP_* variables
        return builder;
    }

    /// <summary>
    /// The operator's side of the API port, wherever the API is hosted: the operator scheme (dashboard and
    /// <c>/metrics</c>), the OpenAPI document, the internal metrics port, and the refusal counters among the metrics.
    /// </summary>
    public static WebApplicationBuilder AddOperatorSurface(this WebApplicationBuilder builder, TelemetrySettings settings)
    {
        // The core services only: AddAuthentication would also start ASP.NET data protection, which nothing here uses.
        builder.Services.AddWebEncoders();
        builder.Services.AddAuthenticationCore(authentication =>
            authentication.AddScheme<OperatorAuthenticationHandler>(OperatorAuthenticationHandler.SchemeName, "NoETL operator"));
        builder.Services.Configure<OperatorAuthenticationOptions>(OperatorAuthenticationHandler.SchemeName,
            operatorScheme => operatorScheme.Token = settings.OperatorToken);
        builder.Services.AddAuthorizationBuilder().AddPolicy(OperatorAuthenticationHandler.Policy, policy => policy
            .AddAuthenticationSchemes(OperatorAuthenticationHandler.SchemeName)
            .RequireAuthenticatedUser());

        builder.Services.AddOpenApi(openApi => openApi.AddContractShapes());
        if (settings.MetricsPort is { } metricsPort)
            builder.WebHost.UseUrls([.. (builder.Configuration["urls"] ?? "http://localhost:5000").Split(';', StringSplitOptions.RemoveEmptyEntries),
                $"http://*:{metricsPort}"]);

        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(DeniedRequests.MeterName));
        return builder;
    }

    public static WebApplication MapOperatorSurface(this WebApplication app, TelemetrySettings settings)
    {
        // /metrics names routes, pools and rates: the operator's, or an internal port's (NOETL_METRICS_PORT).
        var metrics = app.MapPrometheusScrapingEndpoint();
        if (settings.MetricsPort is { } metricsPort)
            metrics.RequireHost($"*:{metricsPort}");
        else
            metrics.RequireAuthorization(OperatorAuthenticationHandler.Policy);
        app.MapOpenApi(); // /openapi/v1.json: public, like NoETL's /openapi.json; it describes the contract, no data
        app.MapOrleansDashboard(routePrefix: DashboardPrefix)
            .RequireAuthorization(OperatorAuthenticationHandler.Policy)
            .ExcludeFromDescription(); // operator UI, not part of NoETL's API
        return app;
    }

    private static bool IsOperational(PathString path) =>
        path.StartsWithSegments("/metrics") || path.StartsWithSegments("/health") || path.StartsWithSegments("/api/health")
        || path.StartsWithSegments(DashboardPrefix);
}
