namespace NoEtl.Deploy.Tests;

/// <summary>values.schema.json turns bad values into an install-time error instead of a broken rollout.</summary>
public class SchemaTests
{
    public static TheoryData<string, string> InvalidValues => new()
    {
        { "silo.replicas=three", "/silo/replicas" },
        { "silo.replicas=0", "/silo/replicas" },
        { "silo.replicaCount=3", "replicaCount" },
        { "keda.enabled=maybe", "/keda/enabled" },
        { "gateway.service.type=Ingress", "/gateway/service/type" },
        { "workers.userPools[0].name=System_Pool", "/workers/userPools/0/name" },
        { "workers.userPools[0].keda.minReplicaCount=0", "minReplicaCount" },
        { "nats.url=", "/nats/url" },
        { "database.server.dsn=", "/database/server" },
        { "containerSecurityContext.allowPrivilegeEscalation=true", "allowPrivilegeEscalation" },
        { "podSecurityContext.runAsNonRoot=false", "runAsNonRoot" },
        { "internalApiToken.value=short", "/internalApiToken/value" },
        { "auth.disabled=maybe", "/auth/disabled" },
        { "auth.tokens=none", "/auth/tokens" },
        { "auth.tokens.operator=short", "/auth/tokens/operator" },
        { "auth.tokens.pools.shared=short", "/auth/tokens/pools/shared" },
        { "auth.tokens.pools.Bad_Pool=token-0123456789abcdef", "Bad_Pool" },
        { "encryptionKey.value=not-a-key", "/encryptionKey/value" },
        { "encryptionKey.value=c2hvcnQ=", "/encryptionKey/value" },
        { "silo.extraEnv[0].name=NOETL_ENCRYPTION_KEY", "/silo/extraEnv" },
        { "observability.logFormat=xml", "/observability/logFormat" },
        { "observability.otlpEndpoint=otel:4317", "/observability/otlpEndpoint" },
        { "observability.metrics.serviceMonitor.enabled=yes", "/observability/metrics/serviceMonitor/enabled" },
    };

    [Theory, MemberData(nameof(InvalidValues))]
    public void Invalid_values_fail_template_and_lint(string set, string expectedPath)
    {
        var template = HelmChart.Template("default", set);
        Assert.True(template.ExitCode != 0, $"helm template accepted {set}");
        Assert.Contains(expectedPath, template.Stderr);

        var lint = HelmChart.Lint("default", set);
        Assert.True(lint.ExitCode != 0, $"helm lint accepted {set}");
    }

    [Theory]
    [InlineData("dev")]
    [InlineData("prod")]
    public void Profiles_still_validate_against_the_schema_with_overrides(string profile)
    {
        var result = HelmChart.Template(profile, "silo.replicas=5", "workers.userPools[0].name=etl");
        Assert.True(result.ExitCode == 0, result.Stderr);
    }
}
