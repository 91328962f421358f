using System.Text.Json.Nodes;
using static NoEtl.Deploy.Tests.Rendered;

namespace NoEtl.Deploy.Tests;

/// <summary>What the dev and prod profiles promise (docs/deploy.md), and the optional pieces they switch.</summary>
public class ProfileTests
{
    private const string PendingCountUrl = "http://noetl-gateway.noetl.svc.cluster.local:8082/api/internal/outbox/pending-count";

    [Fact]
    public void Prod_runs_three_silos_behind_an_ingress()
    {
        var r = HelmChart.Render("prod");
        Assert.Equal("3", Str(r.Deployment("silo")["spec"]!["replicas"]));

        var ingress = Assert.Single(r.OfKind("Ingress"));
        var paths = ((JsonArray)ingress["spec"]!["rules"]!).SelectMany(rule => (JsonArray)rule!["http"]!["paths"]!).ToList();
        Assert.NotEmpty(paths);
        foreach (var path in paths)
        {
            var service = path!["backend"]!["service"]!;
            Assert.Equal("noetl-gateway", Str(service["name"]));
            Assert.True(Str(service["port"]!["name"]) == "http" || Str(service["port"]!["number"]) == "8082");
        }
        Assert.NotNull(r.Find("Service", "noetl-gateway"));
    }

    [Fact]
    public void Prod_scales_every_worker_pool_with_keda_on_the_pending_count_endpoint()
    {
        var r = HelmChart.Render("prod");
        var scaled = r.OfKind("ScaledObject").ToDictionary(s => Str(s["spec"]!["scaleTargetRef"]!["name"]));
        var workers = r.WorkerDeployments.Select(Name).ToList();
        Assert.Contains("noetl-worker-system", workers);
        Assert.Equal(workers.Order(), scaled.Keys.Order());

        var auth = Assert.Single(r.OfKind("TriggerAuthentication"));
        var target = Assert.Single((JsonArray)auth["spec"]!["secretTargetRef"]!)!;
        Assert.Equal("token", Str(target["parameter"]));
        Assert.Equal(HelmChart.TokenSecret, Str(target["name"]));
        Assert.Equal("token", Str(target["key"]));

        foreach (var (deployment, scaledObject) in scaled)
        {
            Assert.Equal("keda.sh/v1alpha1", Str(scaledObject["apiVersion"]));
            var spec = scaledObject["spec"]!;
            Assert.True(int.Parse(Str(spec["minReplicaCount"])) >= 1, $"{deployment} may scale to zero");
            Assert.True(int.Parse(Str(spec["maxReplicaCount"])) >= int.Parse(Str(spec["minReplicaCount"])));
            var trigger = Assert.Single((JsonArray)spec["triggers"]!)!;
            Assert.Equal("metrics-api", Str(trigger["type"]));
            var metadata = trigger["metadata"]!;
            Assert.Equal(PendingCountUrl, Str(metadata["url"]));
            Assert.Equal("pending", Str(metadata["valueLocation"]));
            Assert.Equal("bearer", Str(metadata["authMode"]));
            Assert.Matches("^[0-9]+(\\.[0-9]+)?$", Str(metadata["targetValue"]));
            Assert.Equal(Name(auth), Str(trigger["authenticationRef"]!["name"]));

            // The HPA KEDA creates owns the replica count; a chart value would reset it on every upgrade.
            Assert.Null(r.Get("Deployment", deployment)["spec"]!["replicas"]);
        }
    }

    [Fact]
    public void Prod_uses_external_nats_and_existing_database_secrets()
    {
        var r = HelmChart.Render("prod");
        Assert.Empty(r.OfKind("StatefulSet"));
        foreach (var pool in r.WorkerDeployments)
            Assert.Equal("nats://nats.nats.svc.cluster.local:4222", EnvValue(Container(pool, "worker"), "NATS_URL"));
    }

    [Fact]
    public void Dev_runs_one_silo_without_keda_or_ingress_and_its_own_nats()
    {
        var r = HelmChart.Render("dev");
        Assert.Equal("1", Str(r.Deployment("silo")["spec"]!["replicas"]));
        Assert.Empty(r.OfKind("ScaledObject"));
        Assert.Empty(r.OfKind("TriggerAuthentication"));
        Assert.Empty(r.OfKind("Ingress"));
        foreach (var pool in r.WorkerDeployments)
            Assert.NotNull(pool["spec"]!["replicas"]);

        var nats = r.Get("StatefulSet", "noetl-nats");
        var args = ((JsonArray)Container(nats, "nats")["args"]!).Select(Str).ToList();
        Assert.Contains("--jetstream", args);
        var service = r.Get("Service", "noetl-nats");
        Assert.Contains(((JsonArray)service["spec"]!["ports"]!), p => Str(p!["port"]) == "4222");
        foreach (var pool in r.WorkerDeployments)
            Assert.Equal("nats://noetl-nats.noetl.svc.cluster.local:4222", EnvValue(Container(pool, "worker"), "NATS_URL"));
    }

    [Fact]
    public void Defaults_render_without_keda_ingress_or_nats()
    {
        var r = HelmChart.Render("default");
        Assert.Equal("1", Str(r.Deployment("silo")["spec"]!["replicas"]));
        Assert.Empty(r.OfKind("ScaledObject"));
        Assert.Empty(r.OfKind("Ingress"));
        Assert.Empty(r.OfKind("StatefulSet"));
    }

    [Fact]
    public void Existing_token_secret_replaces_the_chart_managed_one_everywhere()
    {
        var r = HelmChart.RenderWith("prod", "internalApiToken.existingSecret=ops-token", "internalApiToken.existingSecretKey=bearer");
        Assert.Null(r.Find("Secret", HelmChart.TokenSecret));
        Assert.Equal(("ops-token", "bearer"), EnvSecret(Container(r.Deployment("gateway"), "gateway"), "NOETL_INTERNAL_API_TOKEN"));
        Assert.Equal(("ops-token", "bearer"), EnvSecret(Container(r.Deployment("worker-system"), "worker"), "NOETL_INTERNAL_API_TOKEN"));
        var target = ((JsonArray)Assert.Single(r.OfKind("TriggerAuthentication"))["spec"]!["secretTargetRef"]!)[0]!;
        Assert.Equal(("ops-token", "bearer"), (Str(target["name"]), Str(target["key"])));
    }

    [Fact]
    public void Silo_extra_env_passes_the_reaper_and_outbox_settings_through()
    {
        var r = HelmChart.RenderWithValues("default", """
            silo:
              extraEnv:
                - { name: NOETL_COMMAND_REAPER_INTERVAL_SECONDS, value: "30" }
                - { name: NOETL_OUTBOX_VISIBILITY_TIMEOUT_SECONDS, value: "120" }
            """);
        var silo = Container(r.Deployment("silo"), "silo");
        Assert.Equal("30", EnvValue(silo, "NOETL_COMMAND_REAPER_INTERVAL_SECONDS"));
        Assert.Equal("120", EnvValue(silo, "NOETL_OUTBOX_VISIBILITY_TIMEOUT_SECONDS"));
        Assert.Equal(HelmChart.EncryptionKeyFile, EnvValue(silo, "NOETL_ENCRYPTION_KEY_FILE"));

        // An unquoted number would only fail at apply time (env values are strings); the schema stops it earlier.
        var unquoted = HelmChart.Template("default", "silo.extraEnv[0].name=NOETL_COMMAND_REAPER_INTERVAL_SECONDS", "silo.extraEnv[0].value=30");
        Assert.NotEqual(0, unquoted.ExitCode);
        Assert.Contains("/silo/extraEnv", unquoted.Stderr);
    }

    [Fact]
    public void Supplied_token_value_is_stored_under_the_token_key()
    {
        const string token = "supplied-token-0123456789abcdef";
        var r = HelmChart.RenderWith("default", $"internalApiToken.value={token}");
        var data = Str(r.Get("Secret", HelmChart.TokenSecret)["data"]!["token"]);
        Assert.Equal(token, System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(data)));
    }
}
