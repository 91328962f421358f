using System.Text.Json.Nodes;
using NoEtl.Orchestration.Templates;

namespace NoEtl.Orchestration.Tests.Engine;

/// <summary>The render context (NoETL <c>get_render_context</c>) as seen by templates and by the command's RenderContext.</summary>
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
              workload_shadowed: "{{ workload.shadowed }}"
              result: "{{ start.rows }}"
              result_data_alias: "{{ start.data.rows }}"
              result_via_ctx: "{{ ctx.start.rows }}"
              execution_id: "{{ execution_id }}"
              job: "{{ job.uuid }}"
              event: "{{ event.name }} {{ event.step }}"
              output: "{{ output.rows }}"
              envelope_status: "{{ steps.start.status }}"
              ids: "{{ execution_id }}/{{ catalog_id }}"
              path: "{{ path }}"
              version: "{{ version }}"
        """;

    private static IssuedCommand Probe()
    {
        var execution = new ExecutionDriver(Playbook);
        execution.Done("start", JsonNode.Parse("""{"rows": 3}"""));
        return execution.Commands.Single(c => c.Step == "probe");
    }

    [Theory]
    [InlineData("region", "\"eu\"")]
    [InlineData("via_workload", "\"eu\"")]
    [InlineData("via_ctx", "\"eu\"")]
    [InlineData("shadowed", "\"from-ctx\"")]
    [InlineData("ctx_shadowed", "\"from-ctx\"")]
    [InlineData("workload_shadowed", "\"from-ctx\"")]
    [InlineData("result", "3")]
    [InlineData("result_data_alias", "3")]
    [InlineData("result_via_ctx", "3")]
    [InlineData("envelope_status", "\"COMPLETED\"")]
    [InlineData("ids", "\"42/7\"")]
    [InlineData("execution_id", "\"42\"")]
    [InlineData("job", "\"42\"")]
    [InlineData("event", "\"call.done start\"")]
    [InlineData("output", "3")]
    [InlineData("path", "\"team/ctx\"")]
    [InlineData("version", "1")]
    public void Templates_see_the_layered_context(string key, string expected) =>
        Assert.Equal(expected, Probe().Input[key]!.ToJsonString());

    /// <summary>
    /// NoETL's <c>get_render_context</c>: every variable at the top level and the same map under <c>ctx</c> and <c>workload</c>
    /// (a NoETL worker resolves <c>ctx.x</c> only through the <c>ctx</c> key), <c>job</c>, the ids as text, the triggering
    /// <c>event</c> (its result left out: that is <c>output</c>) and <c>output</c>.
    /// </summary>
    [Fact]
    public void The_command_carries_NoETLs_namespaces()
    {
        var context = Probe().RenderContext;
        Assert.Equal(
            ["region", "shadowed", "start", "workload", "ctx", "steps", "job", "execution_id", "catalog_id", "path", "version", "event", "output"],
            context.Select(p => p.Key));
        const string Variables = """{"region":"eu","shadowed":"from-ctx","start":{"rows":3,"data":{"rows":3}}}""";
        Assert.Equal(Variables, context["ctx"]!.ToJsonString());
        Assert.Equal(Variables, context["workload"]!.ToJsonString());
        Assert.Equal("from-ctx", (string?)context["shadowed"]);
        Assert.Equal("""{"uuid":"42","execution_id":"42","id":"42"}""", context["job"]!.ToJsonString());
        Assert.Equal("""{"name":"call.done","payload":{"command_id":1002},"step":"start","timestamp":"2026-01-02T03:04:06.0000000"}""",
            context["event"]!.ToJsonString());
        Assert.Equal("""{"rows":3}""", context["output"]!.ToJsonString());
    }

    /// <summary>The example: after an arc <c>set: {ctx.n: 5}</c>, a worker rendering the next pipeline task's input against the command's render_context gets 5.</summary>
    [Fact]
    public void A_worker_resolves_ctx_n_in_a_pipeline_task_through_the_ctx_namespace()
    {
        var engineCase = EngineCases.Catalog.Single(c => c.Name.StartsWith("an arc's ctx write reaches the next pipeline"));
        var execution = new ExecutionDriver(engineCase.Yaml);
        execution.Done("start", JsonNode.Parse("""{"v": "x"}"""));
        var command = execution.Commands.Single(c => c.Step == "pipe");
        var task = command.ToolConfig["tasks"]![0]!;
        Assert.Equal("""{"n":5}""", Template.RenderValue(task["input"], command.RenderContext)!.ToJsonString());
        Assert.Equal("5", command.RenderContext["ctx"]!["n"]!.ToJsonString());
        Assert.Equal("5", command.RenderContext["workload"]!["n"]!.ToJsonString());
    }

    [Fact]
    public void The_first_command_sees_the_initialization_as_its_event()
    {
        var execution = new ExecutionDriver(Playbook);
        var context = execution.Commands.Single().RenderContext;
        Assert.Equal("""{"name":"playbook.initialized","payload":{},"step":null,"timestamp":null}""", context["event"]!.ToJsonString());
        Assert.False(context.ContainsKey("output"));
    }

    [Fact]
    public void State_builds_the_variable_map_for_status_pages()
    {
        var execution = new ExecutionDriver(Playbook);
        execution.Done("start", JsonNode.Parse("""{"rows": 3}"""));
        var context = execution.State.BuildRenderContext();
        Assert.Equal("""{"region":"eu","shadowed":"from-ctx","start":{"rows":3,"data":{"rows":3}}}""", context.ToJsonString());
        Assert.Equal("""{"shadowed":"from-ctx"}""", execution.State.Variables.ToJsonString());
    }

    /// <summary>
    /// NoETL's task-sequence result: the response's ctx lands in the variables before the step's set and arcs, and the step
    /// result is the last task's mapping with the response merged over it plus a context copy.
    /// </summary>
    [Fact]
    public void A_task_sequence_response_promotes_the_last_task_and_writes_its_ctx()
    {
        var execution = new ExecutionDriver("""
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata: {name: pipe}
            workflow:
              - step: start
                tool:
                  - {name: fetch, kind: http, url: "https://x"}
                  - {name: store, kind: postgres, command: "insert"}
                set: {ctx.seen: "{{ ctx.page }}"}
                next: after
              - step: after
                tool: {kind: noop}
                input:
                  labelled: "{{ start.results.fetch.count }}"
                  last_field: "{{ start.rows }}"
                  status: "{{ start.status }}"
                  page: "{{ page }}"
                  via_ctx: "{{ ctx.page }}"
                  seen: "{{ seen }}"
                  prev: "{{ start._prev.rows }}"
            """);
        execution.Done("start", JsonNode.Parse("""
            {"status": "success", "_prev": {"rows": 2, "status": "inner"}, "results": {"fetch": {"count": 2}, "store": {"rows": 2}}, "ctx": {"page": "5"}}
            """));
        Assert.Equal(
            """{"labelled":2,"last_field":2,"status":"success","page":"5","via_ctx":"5","seen":"5","prev":2}""",
            execution.Commands.Last().Input.ToJsonString());
        Assert.Equal("""{"seen":"5"}""", execution.Log.Single(e => e.EventType == "ctx.updated").Context!["values"]!.ToJsonString());
        var result = execution.State.Step("start").Result!;
        Assert.Equal("success", (string?)result["status"]);
        Assert.Equal(result["context"]!["results"]!.ToJsonString(), result["results"]!.ToJsonString());
    }

    /// <summary>A worker that reports a task sequence as <c>{label: data}</c> only: the labels are taken as the results.</summary>
    [Fact]
    public void A_label_keyed_task_sequence_result_is_read_as_its_results()
    {
        var execution = new ExecutionDriver("""
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
                input: {id: "{{ start.results.fetch.id }}", rows: "{{ start.rows }}", labelled: "{{ start.store.rows }}"}
            """);
        execution.Done("start", JsonNode.Parse("""{"fetch": {"id": 9}, "store": {"rows": 1}}"""));
        Assert.Equal("""{"id":9,"rows":1,"labelled":1}""", execution.Commands.Last().Input.ToJsonString());
    }
}
