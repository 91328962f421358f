using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Tests.Engine;

/// <summary>The layering of noetl-dsl.md §2.5 as seen by templates and by the command's RenderContext.</summary>
public class RenderContextTests
{
    private const string Playbook = """
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata: {name: ctx, path: team/ctx}
        workload:
          region: eu
          shadowed: from-workload
        workflow:
          - step: start
            tool: {kind: noop}
            set:
              ctx.shadowed: from-ctx
            next: probe
          - step: probe
            tool: {kind: noop}
            input:
              region: "{{ region }}"
              via_workload: "{{ workload.region }}"
              via_ctx: "{{ ctx.region }}"
              shadowed: "{{ shadowed }}"
              ctx_shadowed: "{{ ctx.shadowed }}"
              result: "{{ start.rows }}"
              result_data_alias: "{{ start.data.rows }}"
              envelope_status: "{{ steps.start.status }}"
              ids: "{{ execution_id }}/{{ catalog_id }}"
              path: "{{ path }}"
              version: "{{ version }}"
        """;

    private static IssueCommand Probe()
    {
        var grain = new GrainSimulator(Playbook);
        grain.Done("start", JsonNode.Parse("""{"rows": 3}"""));
        return grain.Commands.Single(c => c.Step == "probe");
    }

    [Theory]
    [InlineData("region", "\"eu\"")]
    [InlineData("via_workload", "\"eu\"")]
    [InlineData("via_ctx", "\"eu\"")]
    [InlineData("shadowed", "\"from-ctx\"")]
    [InlineData("ctx_shadowed", "\"from-ctx\"")]
    [InlineData("result", "3")]
    [InlineData("result_data_alias", "3")]
    [InlineData("envelope_status", "\"COMPLETED\"")]
    [InlineData("ids", "\"42/7\"")]
    [InlineData("path", "\"team/ctx\"")]
    [InlineData("version", "1")]
    public void Templates_see_the_layered_context(string key, string expected) =>
        Assert.Equal(expected, Probe().Input[key]!.ToJsonString());

    [Fact]
    public void The_command_carries_the_flat_context()
    {
        var context = Probe().RenderContext;
        Assert.Equal(
            ["region", "shadowed", "workload", "start", "steps", "execution_id", "catalog_id", "path", "version"],
            context.Select(p => p.Key));
        Assert.Equal("from-ctx", (string?)context["shadowed"]);
        Assert.Equal("""{"rows":3,"data":{"rows":3}}""", context["start"]!.ToJsonString());
        Assert.Equal("""{"region":"eu","shadowed":"from-workload"}""", context["workload"]!.ToJsonString());
    }

    [Fact]
    public void State_builds_the_same_flat_context_for_status_pages()
    {
        var grain = new GrainSimulator(Playbook);
        grain.Done("start", JsonNode.Parse("""{"rows": 3}"""));
        var context = grain.State.BuildRenderContext();
        Assert.Equal("from-ctx", (string?)context["shadowed"]);
        Assert.Equal("42", (string?)context["execution_id"]);
        Assert.Equal("""{"shadowed":"from-ctx"}""", grain.State.Variables.ToJsonString());
    }

    [Fact]
    public void Pipeline_results_expose_task_fields_at_the_top_level()
    {
        var grain = new GrainSimulator("""
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata: {name: pipe}
            workflow:
              - step: start
                tool:
                  - {name: fetch, kind: http, url: "https://x"}
                  - {name: store, kind: postgres, command: "insert"}
                next: after
              - step: after
                tool: {kind: noop}
                input:
                  labelled: "{{ start.fetch.count }}"
                  flattened: "{{ start.count }}"
                  first_label_wins: "{{ start.id }}"
                  own_key_wins: "{{ start.note }}"
            """);
        grain.Done("start", JsonNode.Parse("""{"fetch": {"count": 2, "id": "f", "note": "inner"}, "store": {"id": "s"}, "note": "outer"}"""));
        Assert.Equal(
            """{"labelled":2,"flattened":2,"first_label_wins":"f","own_key_wins":"outer"}""",
            grain.Commands.Last().Input.ToJsonString());
    }
}
