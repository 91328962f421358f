using System.Text.Json.Nodes;
using static NoEtl.Deploy.Tests.Rendered;

namespace NoEtl.Deploy.Tests;

/// <summary>The wiring every profile must keep: names the binaries read, Secrets and keys, RBAC, ports, probes.</summary>
public class ChartWiringTests
{
    public static TheoryData<string> Profiles => new(HelmChart.Profiles);

    private const string GatewayUrl = "http://noetl-gateway.noetl.svc.cluster.local:8082";

    [Theory, MemberData(nameof(Profiles))]
    public void Lint_is_clean_in_strict_mode(string profile)
    {
        var lint = HelmChart.Lint(profile);
        Assert.True(lint.ExitCode == 0, $"helm lint --strict ({profile}) failed:\n{lint.Stdout}\n{lint.Stderr}");
    }

    /// <summary>docs/reliability.md "Fast failover": the measured settings ship as defaults, and each can be changed.</summary>
    [Theory, MemberData(nameof(Profiles))]
    public void Fast_failover_settings_reach_silos_and_gateways(string profile)
    {
        var r = HelmChart.Render(profile);
        var silo = Container(r.Deployment("silo"), "silo");
        Assert.Equal("1", EnvValue(silo, "NOETL_MEMBERSHIP_PROBE_TIMEOUT_SECONDS"));
        Assert.Equal("2", EnvValue(silo, "NOETL_MEMBERSHIP_MISSED_PROBES"));
        Assert.Equal("1", EnvValue(silo, "NOETL_MEMBERSHIP_MAX_PROBE_TIMEOUT_SECONDS"));
        Assert.Equal("5", EnvValue(silo, "NOETL_MEMBERSHIP_TABLE_REFRESH_SECONDS"));
        var gateway = Container(r.Deployment("gateway"), "gateway");
        Assert.Equal("3", EnvValue(gateway, "NOETL_FAILOVER_ATTEMPTS"));
        Assert.Equal("2000", EnvValue(gateway, "NOETL_FAILOVER_ATTEMPT_TIMEOUT_MS"));
        Assert.Equal("0.5", EnvValue(gateway, "NOETL_GATEWAY_LIST_REFRESH_SECONDS"));

        var tuned = HelmChart.RenderWith(profile, "silo.membership.probeTimeoutSeconds=3", "gateway.failover.attempts=1");
        Assert.Equal("3", EnvValue(Container(tuned.Deployment("silo"), "silo"), "NOETL_MEMBERSHIP_PROBE_TIMEOUT_SECONDS"));
        Assert.Equal("1", EnvValue(Container(tuned.Deployment("gateway"), "gateway"), "NOETL_FAILOVER_ATTEMPTS"));
    }

    [Theory, MemberData(nameof(Profiles))]
    public void Silo_runs_orleans_kubernetes_hosting_with_downward_api_identity(string profile)
    {
        var r = HelmChart.Render(profile);
        var silo = Container(r.Deployment("silo"), "silo");

        Assert.Equal("metadata.name", EnvFieldRef(silo, "POD_NAME"));
        Assert.Equal("metadata.namespace", EnvFieldRef(silo, "POD_NAMESPACE"));
        Assert.Equal("status.podIP", EnvFieldRef(silo, "POD_IP"));
        Assert.Equal("kubernetes", EnvValue(silo, "NOETL_CLUSTERING"));
        Assert.Equal("11111", EnvValue(silo, "ORLEANS_SILO_PORT"));
        Assert.Equal("30000", EnvValue(silo, "ORLEANS_GATEWAY_PORT"));
        Assert.Equal("http://0.0.0.0:8081", EnvValue(silo, "ASPNETCORE_URLS"));
        Assert.Equal(GatewayUrl, EnvValue(silo, "NOETL_SERVER_URL"));
        Assert.Matches("^[0-9]+$", EnvValue(silo, "NOETL_POSTGRES_POOL_MAX"));
        Assert.NotEmpty(EnvValue(silo, "NOETL_DISCOVERY_ROLE"));

        // The gateway joins the same Orleans cluster, and the pod labels match what the cluster agent selects on.
        var gateway = Container(r.Deployment("gateway"), "gateway");
        var clusterId = EnvValue(silo, "ORLEANS_CLUSTER_ID");
        var serviceId = EnvValue(silo, "ORLEANS_SERVICE_ID");
        Assert.Equal(clusterId, EnvValue(gateway, "ORLEANS_CLUSTER_ID"));
        Assert.Equal(serviceId, EnvValue(gateway, "ORLEANS_SERVICE_ID"));
        var labels = r.Deployment("silo")["spec"]!["template"]!["metadata"]!["labels"]!;
        Assert.Equal(clusterId, Str(labels["orleans/clusterId"]));
        Assert.Equal(serviceId, Str(labels["orleans/serviceId"]));

        var ports = ((JsonArray)silo["ports"]!).Select(p => Str(p!["containerPort"])).ToHashSet();
        Assert.Superset(new HashSet<string> { "8081", "11111", "30000" }, ports);
    }

    [Theory, MemberData(nameof(Profiles))]
    public void Silo_service_account_may_get_list_watch_patch_pods_and_nothing_more(string profile)
    {
        var r = HelmChart.Render(profile);
        var pod = PodSpec(r.Deployment("silo"));
        var account = Str(pod["serviceAccountName"]);
        Assert.Equal("noetl-silo", account);
        Assert.Equal("true", Str(pod["automountServiceAccountToken"]));
        var serviceAccount = r.Get("ServiceAccount", account);
        Assert.NotEqual("false", Str(serviceAccount["automountServiceAccountToken"]));

        var binding = r.OfKind("RoleBinding").Single(b =>
            ((JsonArray)b["subjects"]!).Any(s => Str(s!["kind"]) == "ServiceAccount" && Str(s["name"]) == account));
        Assert.Equal(HelmChart.Namespace, Str(((JsonArray)binding["subjects"]!)[0]!["namespace"]));
        Assert.Equal("Role", Str(binding["roleRef"]!["kind"]));
        var role = r.Get("Role", Str(binding["roleRef"]!["name"]));
        var rule = Assert.Single((JsonArray)role["rules"]!)!;
        Assert.Equal([""], ((JsonArray)rule["apiGroups"]!).Select(Str));
        Assert.Equal(["pods"], ((JsonArray)rule["resources"]!).Select(Str));
        Assert.Equal(["get", "list", "patch", "watch"], ((JsonArray)rule["verbs"]!).Select(Str).Order());
        Assert.Empty(r.OfKind("ClusterRole"));
        Assert.Empty(r.OfKind("ClusterRoleBinding"));

        // Nothing else talks to the Kubernetes API, so nothing else gets a token.
        foreach (var workload in r.Workloads.Where(w => Name(w) != "noetl-silo"))
            Assert.Equal("false", Str(PodSpec(workload)["automountServiceAccountToken"]));
    }

    [Theory, MemberData(nameof(Profiles))]
    public void Gateway_serves_8082_with_health_probes(string profile)
    {
        var r = HelmChart.Render(profile);
        var service = r.Get("Service", "noetl-gateway");
        var port = Assert.Single((JsonArray)service["spec"]!["ports"]!)!;
        Assert.Equal("8082", Str(port["port"]));
        Assert.Equal("http", Str(port["targetPort"]));
        Assert.Equal("gateway", Str(service["spec"]!["selector"]!["app.kubernetes.io/component"]));

        var gateway = Container(r.Deployment("gateway"), "gateway");
        // The API port, and the metrics port that only the in-cluster gateway-metrics Service exposes.
        Assert.Equal([("http", "8082"), ("metrics", "9464")],
            ((JsonArray)gateway["ports"]!).Select(p => (Str(p!["name"]), Str(p["containerPort"]))));
        Assert.Equal("http://0.0.0.0:8082", EnvValue(gateway, "ASPNETCORE_URLS"));
        Assert.Equal("kubernetes", EnvValue(gateway, "NOETL_CLUSTERING"));

        Assert.Equal("/health", ProbePath(gateway, "livenessProbe"));
        Assert.Equal("/api/health", ProbePath(gateway, "readinessProbe"));
        Assert.Equal("/health", ProbePath(gateway, "startupProbe"));
        // The Orleans client holds start-up until a silo answers: the startup budget must cover minutes, not seconds.
        var startup = gateway["startupProbe"]!;
        Assert.True(int.Parse(Str(startup["periodSeconds"])) * int.Parse(Str(startup["failureThreshold"])) >= 300,
            "gateway startupProbe allows less than 5 minutes");

        var silo = Container(r.Deployment("silo"), "silo");
        Assert.Equal("/health", ProbePath(silo, "livenessProbe"));
        Assert.Equal("/health", ProbePath(silo, "readinessProbe"));
        Assert.Equal("/health", ProbePath(silo, "startupProbe"));
        Assert.Equal("http", Str(silo["livenessProbe"]!["httpGet"]!["port"]));
    }

    [Theory, MemberData(nameof(Profiles))]
    public void Internal_token_reaches_gateway_system_pool_and_keda_but_no_user_pool(string profile)
    {
        var r = HelmChart.Render(profile);
        var secret = r.Get("Secret", HelmChart.TokenSecret);
        var token = Str(secret["data"]!["token"]);
        Assert.True(Convert.FromBase64String(token).Length >= 32, "generated token is shorter than 32 bytes");

        var gateway = Container(r.Deployment("gateway"), "gateway");
        Assert.Equal((HelmChart.TokenSecret, "token"), EnvSecret(gateway, "NOETL_INTERNAL_API_TOKEN"));

        var system = Container(r.Deployment("worker-system"), "worker");
        Assert.Equal((HelmChart.TokenSecret, "token"), EnvSecret(system, "NOETL_INTERNAL_API_TOKEN"));
        Assert.Equal("NOETL_INTERNAL_API_TOKEN", EnvValue(system, "NOETL_KEYCHAIN_ENV_VARS"));

        var userPools = r.WorkerDeployments.Where(d => Name(d) != "noetl-worker-system").ToList();
        Assert.NotEmpty(userPools);
        foreach (var pool in userPools)
        {
            var worker = Container(pool, "worker");
            var env = Env(worker);
            Assert.False(env.ContainsKey("NOETL_INTERNAL_API_TOKEN"), $"{Name(pool)} holds the internal token");
            Assert.False(env.ContainsKey("NOETL_KEYCHAIN_ENV_VARS"), $"{Name(pool)} has a keychain allow-list");
            Assert.DoesNotContain(SecretRefs(worker), s => s.Secret == HelmChart.TokenSecret);
        }

        // The silo neither needs nor gets it.
        Assert.DoesNotContain(SecretRefs(Container(r.Deployment("silo"), "silo")), s => s.Secret == HelmChart.TokenSecret);
    }

    [Theory, MemberData(nameof(Profiles))]
    public void Database_dsns_come_from_secrets_and_never_reach_workers(string profile)
    {
        var r = HelmChart.Render(profile);
        var server = EnvSecret(Container(r.Deployment("silo"), "silo"), "ConnectionStrings__Noetl");
        var discovery = EnvSecret(Container(r.Deployment("gateway"), "gateway"), "ConnectionStrings__Discovery");
        Assert.Equal(("noetl-db-server", "dsn"), server);
        Assert.Equal(("noetl-db-discovery", "dsn"), discovery);
        Assert.NotEqual(server.Secret, discovery.Secret);

        if (profile == "prod")
        {
            // prod brings its own Secrets (existingSecret): the chart must not create or overwrite them.
            Assert.Null(r.Find("Secret", server.Secret));
            Assert.Null(r.Find("Secret", discovery.Secret));
        }
        else
        {
            var serverDsn = Decode(r.Get("Secret", server.Secret), server.Key);
            var discoveryDsn = Decode(r.Get("Secret", discovery.Secret), discovery.Key);
            Assert.Contains("Username=noetl_server", serverDsn);
            Assert.Contains("Username=noetl_gateway", discoveryDsn);
        }

        // Each role stays with its process: the gateway never sees the server DSN and vice versa.
        Assert.DoesNotContain(SecretRefs(Container(r.Deployment("gateway"), "gateway")), s => s.Secret == server.Secret);
        Assert.DoesNotContain(SecretRefs(Container(r.Deployment("silo"), "silo")), s => s.Secret == discovery.Secret);

        foreach (var pool in r.WorkerDeployments)
        {
            var worker = Container(pool, "worker");
            var refs = SecretRefs(worker).ToList();
            Assert.DoesNotContain(refs, s => s.Secret == server.Secret || s.Secret == discovery.Secret);
            Assert.DoesNotContain(Env(worker).Keys, k => k.StartsWith("ConnectionStrings__", StringComparison.Ordinal)
                || k.Contains("DATABASE_URL", StringComparison.Ordinal) || k.Contains("DSN", StringComparison.Ordinal));
            Assert.DoesNotContain(Env(worker).Values, e => Str(e["value"]).Contains("Password=", StringComparison.OrdinalIgnoreCase));
        }
    }

    [Theory, MemberData(nameof(Profiles))]
    public void Workers_consume_their_pool_subject_and_call_back_the_gateway(string profile)
    {
        var r = HelmChart.Render(profile);
        Assert.Contains(r.WorkerDeployments, d => Name(d) == "noetl-worker-system");
        Assert.Contains(r.WorkerDeployments, d => Name(d) == "noetl-worker-shared");
        foreach (var deployment in r.WorkerDeployments)
        {
            var pool = Name(deployment)["noetl-worker-".Length..];
            var worker = Container(deployment, "worker");
            Assert.Equal(["--pool", pool], ((JsonArray)worker["args"]!).Select(Str));
            Assert.Equal(GatewayUrl, EnvValue(worker, "NOETL_SERVER_URL"));
            Assert.StartsWith("nats://", EnvValue(worker, "NATS_URL"));
            Assert.Equal("NOETL_COMMANDS", EnvValue(worker, "NATS_STREAM"));
            Assert.Equal($"noetl.commands.{pool}.>", EnvValue(worker, "NATS_FILTER_SUBJECT"));
            Assert.Equal($"noetl-worker-{pool}", EnvValue(worker, "NATS_CONSUMER"));
            Assert.Matches("^[1-9][0-9]*$", EnvValue(worker, "WORKER_MAX_CONCURRENT"));
            Assert.Equal("metadata.name", EnvFieldRef(worker, "WORKER_ID"));
        }
    }

    [Theory, MemberData(nameof(Profiles))]
    public void Every_pod_is_non_root_with_a_read_only_root_filesystem(string profile)
    {
        var r = HelmChart.Render(profile);
        Assert.NotEmpty(r.Workloads);
        foreach (var workload in r.Workloads)
        {
            var pod = PodSpec(workload);
            var podContext = pod["securityContext"]!;
            Assert.Equal("true", Str(podContext["runAsNonRoot"]));
            Assert.NotEqual("0", Str(podContext["runAsUser"]));
            Assert.Equal("RuntimeDefault", Str(podContext["seccompProfile"]!["type"]));
            foreach (var container in Containers(workload))
            {
                var where = $"{Name(workload)}/{Str(container["name"])}";
                var context = container["securityContext"] ?? throw new Xunit.Sdk.XunitException($"{where} has no securityContext");
                Assert.True(Str(context["readOnlyRootFilesystem"]) == "true", $"{where} root FS is writable");
                Assert.True(Str(context["allowPrivilegeEscalation"]) == "false", $"{where} allows privilege escalation");
                Assert.Equal(["ALL"], ((JsonArray)context["capabilities"]!["drop"]!).Select(Str));
                Assert.Null(context["capabilities"]!["add"]);
                Assert.True(container["resources"]?["requests"] is JsonObject, $"{where} has no resource requests");
            }
        }

        // .NET wants a writable /tmp; with a read-only root it has to be a volume.
        foreach (var name in new[] { "silo", "gateway" }.Concat(r.WorkerDeployments.Select(d => Name(d)["noetl-".Length..])))
        {
            var deployment = r.Deployment(name);
            var container = Containers(deployment).Single();
            var mount = ((JsonArray)container["volumeMounts"]!).Single(m => Str(m!["mountPath"]) == "/tmp")!;
            var volume = ((JsonArray)PodSpec(deployment)["volumes"]!).Single(v => Str(v!["name"]) == Str(mount["name"]))!;
            Assert.NotNull(volume["emptyDir"]);
        }
    }

    [Theory, MemberData(nameof(Profiles))]
    public void Pod_disruption_budgets_cover_silo_and_gateway_when_enabled(string profile)
    {
        var r = HelmChart.Render(profile);
        var budgets = r.OfKind("PodDisruptionBudget").ToDictionary(Name);
        var expected = profile == "dev" ? Array.Empty<string>() : ["noetl-silo", "noetl-gateway"];
        Assert.Equal(expected.Order(), budgets.Keys.Order());
        foreach (var (name, budget) in budgets)
        {
            var component = name["noetl-".Length..];
            Assert.Equal(component, Str(budget["spec"]!["selector"]!["matchLabels"]!["app.kubernetes.io/component"]));
            Assert.Null(budget["spec"]!["minAvailable"]);
        }
    }

    private static string ProbePath(JsonObject container, string probe) =>
        Str(container[probe]?["httpGet"]?["path"] ?? throw new Xunit.Sdk.XunitException($"{Str(container["name"])} has no {probe}"));

    private static string Decode(JsonObject secret, string key) =>
        System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(Str(secret["data"]?[key]
            ?? throw new Xunit.Sdk.XunitException($"Secret {Name(secret)} has no key {key}"))));
}
