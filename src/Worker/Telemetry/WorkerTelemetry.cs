using NoEtl.Telemetry;
using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NoEtl.Worker.Commands;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace NoEtl.Worker.Telemetry;

/// <summary>
/// The worker's log format and traces. One span per command notification (source <see cref="SourceName"/>) makes
/// the claim and every event post carry <c>traceparent</c>, so the server's spans join the worker's trace.
/// </summary>
public static class WorkerTelemetry
{
    public const string SourceName = "NoEtl.Worker";

    private static readonly ActivitySource Source = new(SourceName);

    /// <summary>
    /// <c>NOETL_LOG_FORMAT=json</c>: one JSON object per line with scopes (the containers' default); <c>text</c> or
    /// unset keeps the single-line console. Spans are exported only when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.
    /// </summary>
    public static HostApplicationBuilder AddWorkerTelemetry(this HostApplicationBuilder builder)
    {
        var format = builder.Configuration["NOETL_LOG_FORMAT"];
        if (format is "json")
            builder.Logging.AddJsonConsole(json =>
            {
                json.IncludeScopes = true;
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        else if (format is not (null or "" or "text"))
            throw new InvalidOperationException($"NOETL_LOG_FORMAT must be json or text, not '{format}'");

        if (builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] is { Length: > 0 })
            builder.Services.AddOpenTelemetry()
                .ConfigureResource(resource => resource.AddService(
                    builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : "noetl-worker",
                    serviceInstanceId: builder.Configuration["WORKER_ID"] ?? Environment.MachineName + ":" + Environment.ProcessId))
                .WithTracing(tracing => tracing
                    .SetSampler(new ParentBasedSampler(new RequestRootSampler()))
                    .AddSource(SourceName)
                    .AddHttpClientInstrumentation()
                    .AddOtlpExporter()); // endpoint, protocol and headers from the standard OTEL_EXPORTER_OTLP_* variables
        return builder;
    }

    /// <summary>The span of one notification, from claim to terminal event; null when nobody listens.</summary>
    public static Activity? StartCommand(CommandNotification notification)
    {
        var activity = Source.StartActivity("command", ActivityKind.Consumer);
        activity?.SetTag("execution_id", notification.ExecutionId.ToString());
        activity?.SetTag("event_id", notification.EventId.ToString());
        activity?.SetTag("command_id", notification.CommandId);
        activity?.SetTag("step", notification.Step);
        return activity;
    }
}
