using System.Text.Json.Nodes;
using static NoEtl.Deploy.Tests.Rendered;

namespace NoEtl.Deploy.Tests;

/// <summary>Log format, OTLP export and /metrics scraping (docs/observability.md).</summary>
public class ObservabilityTests
{
    public static TheoryData<string> Profiles => new(HelmChart.Profiles);

    private const string Collector = "http://otel-collector.monitoring.svc.cluster.local:4317";

    /// <summary>The three NoETL processes: silo, gateway and every worker pool.</summary>
    private static IEnumerable<(JsonObject Workload, JsonObject Container)> NoEtlContainers(Rendered r) =>
        r.AllContainers.Where(c => Str(c.Container["name"]) is "silo" or "gateway" or "worker");

    [Theory, MemberData(nameof(Profiles))]
    public void Json_logs_and_no_otlp_export_unless_configured(string profile)
    {
        var r = HelmChart.Render(profile);
        var containers = NoEtlContainers(r).ToList();
        Assert.Equal(2 + r.WorkerDeployments.Count(), containers.Count);
        foreach (var (workload, container) in containers)
        {
            Assert.Equal("json", EnvValue(container, "NOETL_LOG_FORMAT"));
            Assert.False(Env(container).ContainsKey("OTEL_EXPORTER_OTLP_ENDPOINT"), $"{Name(workload)} exports spans without an endpoint configured");
        }
    }

    [Fact]
    public void Otlp_endpoint_reaches_silo_gateway_and_every_worker_when_set()
    {
        var r = HelmChart.RenderWith("dev", $"observability.otlpEndpoint={Collector}", "observability.otlpProtocol=grpc");
        foreach (var (_, container) in NoEtlContainers(r))
        {
            Assert.Equal(Collector, EnvValue(container, "OTEL_EXPORTER_OTLP_ENDPOINT"));
            Assert.Equal("grpc", EnvValue(container, "OTEL_EXPORTER_OTLP_PROTOCOL"));
        }
        // Not the development NATS: it is not a NoETL process.
        Assert.False(Env(Container(r.Get("StatefulSet", "noetl-nats"), "nats")).ContainsKey("OTEL_EXPORTER_OTLP_ENDPOINT"));
    }

    [Theory, MemberData(nameof(Profiles))]
    public void Silo_and_gateway_pods_carry_prometheus_scrape_annotations(string profile)
    {
        var r = HelmChart.Render(profile);
        foreach (var (component, port) in new[] { ("silo", "8081"), ("gateway", "9464") })
        {
            var deployment = r.Deployment(component);
            var annotations = deployment["spec"]!["template"]!["metadata"]!["annotations"]!;
            Assert.Equal("true", Str(annotations["prometheus.io/scrape"]));
            Assert.Equal(port, Str(annotations["prometheus.io/port"]));
            Assert.Equal("/metrics", Str(annotations["prometheus.io/path"]));
            Assert.Contains(((JsonArray)Containers(deployment).Single()["ports"]!), p => Str(p!["containerPort"]) == port);
        }
        // Workers serve no HTTP.
        foreach (var worker in r.WorkerDeployments)
            Assert.Null(worker["spec"]!["template"]!["metadata"]!["annotations"]?["prometheus.io/scrape"]);
        Assert.Empty(r.OfKind("ServiceMonitor"));
    }

    [Fact]
    public void Service_monitor_selects_the_silo_and_gateway_services_on_their_metrics_port()
    {
        var r = HelmChart.RenderWith("default",
            "observability.metrics.serviceMonitor.enabled=true", "observability.metrics.serviceMonitor.labels.release=kps",
            "observability.metrics.scrapeAnnotations=false");
        var monitor = Assert.Single(r.OfKind("ServiceMonitor"));
        Assert.Equal("monitoring.coreos.com/v1", Str(monitor["apiVersion"]));
        Assert.Equal("kps", Str(monitor["metadata"]!["labels"]!["release"]));
        var endpoint = Assert.Single((JsonArray)monitor["spec"]!["endpoints"]!)!;
        Assert.Equal("/metrics", Str(endpoint["path"]));

        var selected = r.OfKind("Service").Where(s => Selects(monitor["spec"]!["selector"]!, s["metadata"]!["labels"]!)).ToList();
        // The public gateway Service has no metrics port: /metrics there would need the operator credential.
        var scraped = selected.Where(s => ((JsonArray)s["spec"]!["ports"]!).Any(p => Str(p!["name"]) == Str(endpoint["port"]))).ToList();
        Assert.Equal(["noetl-gateway-metrics", "noetl-silo"], scraped.Select(Name).Order(StringComparer.Ordinal));
        foreach (var service in scraped)
        {
            var port = ((JsonArray)service["spec"]!["ports"]!).Single(p => Str(p!["name"]) == Str(endpoint["port"]))!;
            Assert.Equal(Name(service) == "noetl-silo" ? "8081" : "9464", Str(port["port"]));
        }
        Assert.Equal("9464", EnvValue(Container(r.Deployment("gateway"), "gateway"), "NOETL_METRICS_PORT"));

        Assert.Null(r.Deployment("silo")["spec"]!["template"]!["metadata"]!["annotations"]!["prometheus.io/scrape"]);
    }

    /// <summary>A label selector (matchLabels and In expressions) against a label set.</summary>
    private static bool Selects(JsonNode selector, JsonNode labels)
    {
        var matchLabels = ((JsonObject?)selector["matchLabels"] ?? new JsonObject()).All(kv => Str(labels[kv.Key]) == Str(kv.Value));
        var expressions = ((JsonArray?)selector["matchExpressions"] ?? []).All(e =>
        {
            Assert.Equal("In", Str(e!["operator"]));
            return ((JsonArray)e["values"]!).Select(Str).Contains(Str(labels[Str(e["key"])]));
        });
        return matchLabels && expressions;
    }
}
