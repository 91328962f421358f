using Microsoft.Extensions.Configuration;
using NoEtl.Grains.Catalog;
using NoEtl.Grains.Hosting;

namespace NoEtl.Grains.Tests.Catalog;

/// <summary>The catalog grain parses registrations within the limits the silo was configured with.</summary>
public sealed class RegistrationLimitsTests
{
    private const string ThreeSteps = """
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata: {name: three, path: tests/three}
        workflow:
          - step: start
            tool: {kind: noop}
            next: {arcs: [{step: middle}]}
          - step: middle
            tool: {kind: noop, data: "{{ workload.x | default('y') }}"}
            next: {arcs: [{step: end}]}
          - step: end
            tool: {kind: noop}
        """;

    [Fact]
    public void A_playbook_accepted_with_the_defaults_is_refused_by_a_silo_with_smaller_limits()
    {
        Assert.Null(CatalogGrain.ParseDocument(ThreeSteps, null, ServerOptions.FromConfiguration(Configuration()).Limits).Refusal);

        var steps = CatalogGrain.ParseDocument(ThreeSteps, null, ServerOptions.FromConfiguration(Configuration(("NOETL_PLAYBOOK_MAX_STEPS", "2"))).Limits);
        Assert.Equal(FailureKind.Invalid, steps.Refusal?.Kind);
        Assert.Contains("workflow has 3 steps, more than the limit of 2", Message(steps));

        var yaml = CatalogGrain.ParseDocument(ThreeSteps, null, ServerOptions.FromConfiguration(Configuration(("NOETL_YAML_MAX_DEPTH", "3"))).Limits);
        Assert.Contains("YAML nested deeper than 3 levels", Message(yaml));

        var templates = CatalogGrain.ParseDocument(ThreeSteps, null, ServerOptions.FromConfiguration(Configuration(("NOETL_TEMPLATE_MAX_DEPTH", "1"))).Limits);
        Assert.Contains("template nesting deeper than 1 levels", Message(templates));
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();

    private static string Message(CatalogDocument document) => document.Refusal!.Fields![0].Message;
}
