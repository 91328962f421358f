namespace NoEtl.ApiGateway.Telemetry;

/// <summary>Observability switches of the gateway. Configuration keys are environment-variable names.</summary>
public sealed class TelemetrySettings
{
    /// <summary><c>service.name</c> of spans and metrics (<c>OTEL_SERVICE_NAME</c>).</summary>
    public string ServiceName { get; init; } = "noetl-gateway";

    /// <summary>Spans are exported only when an OTLP endpoint is set: without one, no span is even created.</summary>
    public string? OtlpEndpoint { get; init; }

    /// <summary><c>NOETL_LOG_FORMAT=json</c> writes one JSON object per line with scopes (the containers' default).</summary>
    public bool JsonLogs { get; init; }

    /// <summary><c>NOETL_OPERATOR_TOKEN</c>: the dashboard's credential; unset keeps the dashboard closed (401).</summary>
    public string? OperatorToken { get; init; }

    /// <summary>
    /// <c>NOETL_METRICS_PORT</c>: serve <c>/metrics</c> without credentials on this port only (for in-cluster
    /// scraping; keep it off the public Service). Unset: <c>/metrics</c> is on the API port behind the operator credential.
    /// </summary>
    public int? MetricsPort { get; init; }

    public static TelemetrySettings From(IConfiguration configuration) => new()
    {
        MetricsPort = configuration["NOETL_METRICS_PORT"] is { Length: > 0 } port
            ? int.TryParse(port, out var number) && number is > 0 and < 65536
                ? number
                : throw new InvalidOperationException($"NOETL_METRICS_PORT must be a TCP port, not '{port}'")
            : null,
        ServiceName = configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : "noetl-gateway",
        OtlpEndpoint = configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] is { Length: > 0 } endpoint ? endpoint : null,
        JsonLogs = configuration["NOETL_LOG_FORMAT"] switch
        {
            null or "" or "text" => false,
            "json" => true,
            var other => throw new InvalidOperationException($"NOETL_LOG_FORMAT must be json or text, not '{other}'"),
        },
        OperatorToken = configuration["NOETL_OPERATOR_TOKEN"]?.Trim() is { Length: > 0 } token ? token : null,
    };
}
