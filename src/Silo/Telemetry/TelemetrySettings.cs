namespace NoEtl.Silo.Telemetry;

/// <summary>Observability switches of a silo. Configuration keys are environment-variable names.</summary>
public sealed class TelemetrySettings
{
    /// <summary><c>service.name</c> of spans and metrics (<c>OTEL_SERVICE_NAME</c>).</summary>
    public string ServiceName { get; init; } = "noetl-silo";

    /// <summary>Spans are exported only when an OTLP endpoint is set: without one, no span is even created.</summary>
    public string? OtlpEndpoint { get; init; }

    /// <summary><c>NOETL_LOG_FORMAT=json</c> writes one JSON object per line with scopes (the containers' default).</summary>
    public bool JsonLogs { get; init; }

    public static TelemetrySettings From(IConfiguration configuration) => new()
    {
        ServiceName = configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : "noetl-silo",
        OtlpEndpoint = configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] is { Length: > 0 } endpoint ? endpoint : null,
        JsonLogs = configuration["NOETL_LOG_FORMAT"] switch
        {
            null or "" or "text" => false,
            "json" => true,
            var other => throw new InvalidOperationException($"NOETL_LOG_FORMAT must be json or text, not '{other}'"),
        },
    };
}
