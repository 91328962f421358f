using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using static NoEtl.Deploy.Tests.Rendered;

namespace NoEtl.Deploy.Tests;

/// <summary>
/// The credential encryption key and the public-API tokens: which pod gets which secret, and how (README
/// "Configuration", src/Grains/Security/KeyRing.cs, src/ApiGateway/Auth, src/Worker/Runtime/WorkerOptions.cs).
/// </summary>
public class SecretsWiringTests
{
    public static TheoryData<string> Profiles => new(HelmChart.Profiles);

    [Theory, MemberData(nameof(Profiles))]
    public void Encryption_key_is_a_read_only_file_on_silos_and_nowhere_else(string profile)
    {
        var r = HelmChart.Render(profile);
        var siloDeployment = r.Deployment("silo");
        var silo = Container(siloDeployment, "silo");
        Assert.Equal(HelmChart.EncryptionKeyFile, EnvValue(silo, "NOETL_ENCRYPTION_KEY_FILE"));
        // Setting both is refused by the silo; the key never travels as an env var.
        Assert.False(Env(silo).ContainsKey("NOETL_ENCRYPTION_KEY"), "silo has NOETL_ENCRYPTION_KEY as well as the file");
        var (secret, key, _) = SecretFile(siloDeployment, silo, HelmChart.EncryptionKeyFile);
        Assert.Equal((HelmChart.EncryptionKeySecret, "key"), (secret, key));

        if (profile == "prod")
        {
            // prod brings its own key (encryptionKey.existingSecret): the chart must not create or overwrite it.
            Assert.Null(r.Find("Secret", HelmChart.EncryptionKeySecret));
        }
        else
        {
            var stored = r.Get("Secret", HelmChart.EncryptionKeySecret);
            var material = Convert.FromBase64String(Decode(stored, "key"));
            Assert.Equal(32, material.Length);
            // Losing it makes every stored credential unreadable: `helm uninstall` must leave it behind.
            Assert.Equal("keep", Str(stored["metadata"]!["annotations"]?["helm.sh/resource-policy"]));
        }

        foreach (var (workload, container) in r.AllContainers.Where(c => Name(c.Workload) != "noetl-silo"))
        {
            var where = $"{Name(workload)}/{Str(container["name"])}";
            Assert.DoesNotContain(HelmChart.EncryptionKeySecret, SecretVolumes(workload));
            Assert.DoesNotContain(SecretRefs(container), s => s.Secret == HelmChart.EncryptionKeySecret);
            Assert.False(Env(container).Keys.Any(k => k.StartsWith("NOETL_ENCRYPTION_KEY", StringComparison.Ordinal)), $"{where} has the encryption key");
        }
    }

    [Theory, MemberData(nameof(Profiles))]
    public void Gateway_reads_token_digests_from_a_mounted_document_and_the_operator_token_from_the_secret(string profile)
    {
        var r = HelmChart.Render(profile);
        var gatewayDeployment = r.Deployment("gateway");
        var gateway = Container(gatewayDeployment, "gateway");

        Assert.Equal(HelmChart.ApiTokensFile, EnvValue(gateway, "NOETL_API_TOKENS_FILE"));
        Assert.False(Env(gateway).ContainsKey("NOETL_API_TOKENS"), "gateway has inline principals as well as the file");
        var (secret, key, _) = SecretFile(gatewayDeployment, gateway, HelmChart.ApiTokensFile);
        Assert.Equal((HelmChart.ApiTokensSecret, "principals.json"), (secret, key));
        // Only the digests are projected into the gateway, not the plaintext keys of the same Secret.
        var volume = Volumes(gatewayDeployment).Single(v => Str(v["secret"]?["secretName"]) == HelmChart.ApiTokensSecret);
        Assert.Equal(["principals.json"], ((JsonArray)volume["secret"]!["items"]!).Select(i => Str(i!["key"])));

        Assert.Equal((HelmChart.ApiTokensSecret, "operator"), EnvSecret(gateway, "NOETL_OPERATOR_TOKEN"));
        // The system pool authenticates with the internal token, which the gateway keeps knowing.
        Assert.Equal((HelmChart.TokenSecret, "token"), EnvSecret(gateway, "NOETL_INTERNAL_API_TOKEN"));

        // The document the chart generated matches the plaintext tokens it generated.
        var tokens = r.Get("Secret", HelmChart.ApiTokensSecret);
        var principals = Principals(Decode(tokens, "principals.json"));
        var userPools = UserPoolNames(r);
        Assert.Equal(userPools.Select(p => $"{p}-pool").Append("operator").Order(StringComparer.Ordinal), principals.Keys.Order(StringComparer.Ordinal));

        var operatorToken = Decode(tokens, "operator");
        Assert.True(operatorToken.Length >= 32, "generated operator token is shorter than 32 characters");
        Assert.Equal(("operator", null, Sha256(operatorToken)), principals["operator"]);
        foreach (var pool in userPools)
        {
            var token = Decode(tokens, $"{pool}-pool");
            Assert.Equal(("worker", pool, Sha256(token)), principals[$"{pool}-pool"]);
            Assert.NotEqual(operatorToken, token);
        }
        Assert.DoesNotContain(operatorToken, Decode(tokens, "principals.json"));
    }

    [Theory, MemberData(nameof(Profiles))]
    public void User_pools_hold_their_own_token_and_the_system_pool_only_the_internal_one(string profile)
    {
        var r = HelmChart.Render(profile);
        var userPools = r.WorkerDeployments.Where(d => Name(d) != "noetl-worker-system").ToList();
        Assert.NotEmpty(userPools);
        foreach (var deployment in userPools)
        {
            var pool = Name(deployment)["noetl-worker-".Length..];
            var worker = Container(deployment, "worker");
            Assert.Equal((HelmChart.ApiTokensSecret, $"{pool}-pool"), EnvSecret(worker, "NOETL_API_TOKEN"));
            Assert.False(Env(worker).ContainsKey("NOETL_INTERNAL_API_TOKEN"), $"{pool} holds the internal token");
            Assert.False(Env(worker).ContainsKey("NOETL_OPERATOR_TOKEN"), $"{pool} holds the operator token");
            // Its own key and nothing else of the tokens Secret (no operator, no other pool, no volume).
            Assert.Equal([$"{pool}-pool"], SecretRefs(worker).Where(s => s.Secret == HelmChart.ApiTokensSecret).Select(s => s.Key));
            Assert.DoesNotContain(HelmChart.ApiTokensSecret, SecretVolumes(deployment));
        }

        var systemDeployment = r.Deployment("worker-system");
        var system = Container(systemDeployment, "worker");
        Assert.Equal((HelmChart.TokenSecret, "token"), EnvSecret(system, "NOETL_INTERNAL_API_TOKEN"));
        Assert.False(Env(system).ContainsKey("NOETL_API_TOKEN"), "the system pool has a user-pool token");
        Assert.False(Env(system).ContainsKey("NOETL_OPERATOR_TOKEN"), "the system pool has the operator token");
        Assert.DoesNotContain(SecretRefs(system), s => s.Secret == HelmChart.ApiTokensSecret);
        Assert.DoesNotContain(HelmChart.ApiTokensSecret, SecretVolumes(systemDeployment));

        // The operator token goes to the gateway and nowhere else.
        foreach (var (workload, container) in r.AllContainers.Where(c => Name(c.Workload) != "noetl-gateway"))
        {
            Assert.False(Env(container).ContainsKey("NOETL_OPERATOR_TOKEN"), $"{Name(workload)} has NOETL_OPERATOR_TOKEN");
            Assert.DoesNotContain(SecretRefs(container), s => s.Secret == HelmChart.ApiTokensSecret && s.Key is "operator" or "*");
        }
        Assert.DoesNotContain(SecretRefs(Container(r.Deployment("silo"), "silo")), s => s.Secret == HelmChart.ApiTokensSecret);
    }

    [Theory, MemberData(nameof(Profiles))]
    public void Development_escape_hatches_stay_closed(string profile)
    {
        var r = HelmChart.Render(profile);
        Assert.Equal("false", EnvValue(Container(r.Deployment("gateway"), "gateway"), "NOETL_AUTH_DISABLED"));
        foreach (var (workload, container) in r.AllContainers)
        {
            var env = Env(container);
            var where = $"{Name(workload)}/{Str(container["name"])}";
            if (env.TryGetValue("NOETL_AUTH_DISABLED", out var disabled))
                Assert.True(Str(disabled["value"]) == "false", $"{where}: NOETL_AUTH_DISABLED={Str(disabled["value"])}");
            // Without a key NOETL_DEV_MODE=true falls back to a well-known, public key.
            Assert.False(env.ContainsKey("NOETL_DEV_MODE"), $"{where} sets NOETL_DEV_MODE");
        }
    }

    [Fact]
    public void Disabling_auth_reaches_the_gateway_only()
    {
        var r = HelmChart.RenderWith("dev", "auth.disabled=true");
        Assert.Equal("true", EnvValue(Container(r.Deployment("gateway"), "gateway"), "NOETL_AUTH_DISABLED"));
        foreach (var (workload, container) in r.AllContainers.Where(c => Name(c.Workload) != "noetl-gateway"))
            Assert.False(Env(container).ContainsKey("NOETL_AUTH_DISABLED"), $"{Name(workload)} has NOETL_AUTH_DISABLED");
    }

    [Fact]
    public void Supplied_tokens_are_stored_and_published_as_digests()
    {
        const string operatorToken = "operator-token-0123456789abcdef";
        const string poolToken = "shared-pool-token-0123456789abcdef";
        var r = HelmChart.RenderWith("default", $"auth.tokens.operator={operatorToken}", $"auth.tokens.pools.shared={poolToken}");
        var tokens = r.Get("Secret", HelmChart.ApiTokensSecret);
        Assert.Equal(operatorToken, Decode(tokens, "operator"));
        Assert.Equal(poolToken, Decode(tokens, "shared-pool"));
        var principals = Principals(Decode(tokens, "principals.json"));
        Assert.Equal(Sha256(operatorToken), principals["operator"].Digest);
        Assert.Equal(Sha256(poolToken), principals["shared-pool"].Digest);
    }

    [Fact]
    public void Every_user_pool_gets_its_own_token_and_principal()
    {
        var r = HelmChart.RenderWithValues("default", """
            workers:
              userPools:
                - { name: shared, replicas: 1, maxConcurrent: 4, keda: { minReplicaCount: 1, maxReplicaCount: 2, targetValue: "50" } }
                - { name: etl, replicas: 1, maxConcurrent: 2, keda: { minReplicaCount: 1, maxReplicaCount: 2, targetValue: "50" } }
            """);
        Assert.Equal(("noetl-api-tokens", "shared-pool"), EnvSecret(Container(r.Deployment("worker-shared"), "worker"), "NOETL_API_TOKEN"));
        Assert.Equal(("noetl-api-tokens", "etl-pool"), EnvSecret(Container(r.Deployment("worker-etl"), "worker"), "NOETL_API_TOKEN"));
        var tokens = r.Get("Secret", HelmChart.ApiTokensSecret);
        var principals = Principals(Decode(tokens, "principals.json"));
        Assert.Equal(("worker", "etl", Sha256(Decode(tokens, "etl-pool"))), principals["etl-pool"]);
        Assert.NotEqual(Decode(tokens, "etl-pool"), Decode(tokens, "shared-pool"));
    }

    [Fact]
    public void A_token_for_an_unknown_pool_is_refused()
    {
        var result = HelmChart.Template("default", "auth.tokens.pools.nope=token-0123456789abcdef");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("auth.tokens.pools.nope", result.Stderr);
    }

    [Fact]
    public void Existing_api_token_secret_replaces_the_chart_managed_one_everywhere()
    {
        var r = HelmChart.RenderWith("prod", "auth.existingSecret=ops-api-tokens");
        Assert.Null(r.Find("Secret", HelmChart.ApiTokensSecret));
        var gatewayDeployment = r.Deployment("gateway");
        var gateway = Container(gatewayDeployment, "gateway");
        var (secret, key, _) = SecretFile(gatewayDeployment, gateway, HelmChart.ApiTokensFile);
        Assert.Equal(("ops-api-tokens", "principals.json"), (secret, key));
        Assert.Equal(("ops-api-tokens", "operator"), EnvSecret(gateway, "NOETL_OPERATOR_TOKEN"));
        Assert.Equal(("ops-api-tokens", "shared-pool"), EnvSecret(Container(r.Deployment("worker-shared"), "worker"), "NOETL_API_TOKEN"));
    }

    [Fact]
    public void Existing_encryption_key_secret_is_mounted_under_the_same_file_name()
    {
        var r = HelmChart.RenderWith("default", "encryptionKey.existingSecret=vault-noetl-key", "encryptionKey.existingSecretKey=ring");
        Assert.Null(r.Find("Secret", HelmChart.EncryptionKeySecret));
        var silo = r.Deployment("silo");
        var (secret, key, _) = SecretFile(silo, Container(silo, "silo"), HelmChart.EncryptionKeyFile);
        Assert.Equal(("vault-noetl-key", "ring"), (secret, key));
    }

    [Fact]
    public void Supplied_key_ring_is_stored_verbatim()
    {
        var newKey = Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        var oldKey = Convert.ToBase64String(Enumerable.Range(100, 32).Select(i => (byte)i).ToArray());
        // `\,` keeps --set from splitting the ring at its comma.
        var r = HelmChart.RenderWith("default", $"encryptionKey.value=k2:{newKey}\\,k1:{oldKey}");
        Assert.Equal($"k2:{newKey},k1:{oldKey}", Decode(r.Get("Secret", HelmChart.EncryptionKeySecret), "key"));
    }

    private static IReadOnlyList<string> UserPoolNames(Rendered r) =>
        r.WorkerDeployments.Select(Name).Where(n => n != "noetl-worker-system").Select(n => n["noetl-worker-".Length..]).Order().ToList();

    /// <summary>name → (role, pool, token_sha256) of a NOETL_API_TOKENS document, checked for the shape ApiPrincipals.Parse wants.</summary>
    private static Dictionary<string, (string Role, string? Pool, string Digest)> Principals(string document)
    {
        var entries = (JsonArray)(JsonNode.Parse(document)!["principals"] ?? throw new Xunit.Sdk.XunitException("no principals array"));
        return entries.Cast<JsonObject>().ToDictionary(
            e => e["name"]!.GetValue<string>(),
            e =>
            {
                var digest = e["token_sha256"]!.GetValue<string>();
                Assert.Matches("^[0-9a-f]{64}$", digest);
                return (e["role"]!.GetValue<string>(), e["pool"]?.GetValue<string>(), digest);
            });
    }

    private static string Sha256(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string Decode(JsonObject secret, string key) =>
        Encoding.UTF8.GetString(Convert.FromBase64String(Str(secret["data"]?[key]
            ?? throw new Xunit.Sdk.XunitException($"Secret {Name(secret)} has no key {key}"))));
}
