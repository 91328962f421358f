using YamlDotNet.RepresentationModel;

namespace NoEtl.Bench.Harness;

/// <summary>
/// The Helm chart's fast-failover settings: the defaults in helm/noetl/values.yaml, under the environment variables
/// the chart's templates (silo.yaml, gateway.yaml) give them. Read from the chart on every run, so a several-silo run
/// measures what a deployment gets, not a copy that drifted from it.
/// </summary>
public sealed record HelmFastFailover(IReadOnlyDictionary<string, string> Silo, IReadOnlyDictionary<string, string> Gateway)
{
    /// <summary>Value path in values.yaml → the variable templates/silo.yaml sets from it.</summary>
    public static readonly IReadOnlyList<(string Path, string Variable)> SiloValues =
    [
        ("silo.membership.probeTimeoutSeconds", "NOETL_MEMBERSHIP_PROBE_TIMEOUT_SECONDS"),
        ("silo.membership.missedProbes", "NOETL_MEMBERSHIP_MISSED_PROBES"),
        ("silo.membership.maxProbeTimeoutSeconds", "NOETL_MEMBERSHIP_MAX_PROBE_TIMEOUT_SECONDS"),
        ("silo.membership.tableRefreshSeconds", "NOETL_MEMBERSHIP_TABLE_REFRESH_SECONDS"),
        ("silo.databaseWatchdog.stopAfterSeconds", "NOETL_DB_WATCHDOG_SECONDS"),
        ("silo.databaseWatchdog.probeSeconds", "NOETL_DB_WATCHDOG_PROBE_SECONDS"),
    ];

    /// <summary>Value path in values.yaml → the variable templates/gateway.yaml sets from it.</summary>
    public static readonly IReadOnlyList<(string Path, string Variable)> GatewayValues =
    [
        ("gateway.failover.attempts", "NOETL_FAILOVER_ATTEMPTS"),
        ("gateway.failover.attemptTimeoutMs", "NOETL_FAILOVER_ATTEMPT_TIMEOUT_MS"),
        ("gateway.failover.gatewayListRefreshSeconds", "NOETL_GATEWAY_LIST_REFRESH_SECONDS"),
    ];

    public static string ChartDirectory => Path.Combine(SystemUnderTest.RepositoryRoot, "helm", "noetl");

    public static HelmFastFailover Read()
    {
        var yaml = new YamlStream();
        using (var reader = File.OpenText(Path.Combine(ChartDirectory, "values.yaml")))
            yaml.Load(reader);
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        return new HelmFastFailover(Variables(root, SiloValues), Variables(root, GatewayValues));
    }

    /// <summary>For the report: <c>silo.membership.probeTimeoutSeconds=1, …</c>.</summary>
    public string Describe() => string.Join(", ", SiloValues.Select(v => $"{v.Path}={Silo[v.Variable]}")
        .Concat(GatewayValues.Select(v => $"{v.Path}={Gateway[v.Variable]}")));

    private static Dictionary<string, string> Variables(YamlMappingNode root, IEnumerable<(string Path, string Variable)> values) =>
        values.ToDictionary(v => v.Variable, v => Scalar(root, v.Path));

    private static string Scalar(YamlMappingNode root, string path)
    {
        YamlNode node = root;
        foreach (var key in path.Split('.'))
        {
            if (node is not YamlMappingNode mapping || !mapping.Children.TryGetValue(new YamlScalarNode(key), out var child))
                throw new InvalidOperationException($"helm/noetl/values.yaml has no {path}: the bench's fast-failover settings follow the chart");
            node = child;
        }
        return node is YamlScalarNode { Value: { Length: > 0 } value }
            ? value
            : throw new InvalidOperationException($"helm/noetl/values.yaml: {path} is not a value");
    }
}
