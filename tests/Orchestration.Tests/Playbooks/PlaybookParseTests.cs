using System.Text.Json.Nodes;
using NoEtl.Orchestration.Playbooks;
using NoEtl.Orchestration.Templates;

namespace NoEtl.Orchestration.Tests.Playbooks;

public class PlaybookParseTests
{
    private const string Header = """
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata:
          name: demo

        """;

    private static PlaybookParseResult Parse(string yaml) => Playbook.Parse(PlaybookDocument.LoadYaml(yaml));

    private static Playbook Valid(string yaml)
    {
        var result = Parse(yaml);
        Assert.Empty(result.Errors);
        return result.Playbook!;
    }

    private static string Errors(string yaml) =>
        string.Join("\n", Parse(yaml).Errors.Select(e => $"{e.Path}: {e.Message}"));

    [Fact]
    public void Minimal_playbook_parses_with_defaults()
    {
        var pb = Valid(Header + """
            workflow:
              - step: start
                tool: {kind: noop}
            """);
        Assert.Equal("demo", pb.Name);
        Assert.Equal("demo", pb.Path);
        Assert.Empty(pb.Workload);
        Assert.Null(pb.Keychain);
        var start = Assert.Single(pb.Steps);
        Assert.Same(start, pb.FindStep("start"));
        Assert.Null(pb.FindStep("nope"));
        Assert.Equal("noop", start.ToolKind);
        Assert.False(start.IsPipeline);
        Assert.Null(start.Next);
        Assert.Empty(start.Arcs);
        Assert.Null(start.Loop);
        Assert.True(pb.IsImplicitEnd("end"));
        Assert.False(pb.IsImplicitEnd("start"));
    }

    [Fact]
    public void Properties_come_from_metadata_workload_and_keychain()
    {
        var pb = Valid("""
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata: {name: demo, path: team/demo, description: anything}
            workload: {a: 1}
            keychain:
              - {name: pg, kind: credential_ref}
            workflow:
              - step: start
                desc: first
                tool: {kind: http, url: "https://x", custom_field: {kept: true}}
                input: {a: 1}
                set: {ctx.x: 1}
                spec: {timeout: 5}
              - step: end
                tool: {kind: noop}
            """);
        Assert.Equal("team/demo", pb.Path);
        Assert.Equal("""{"a":1}""", pb.Workload.ToJsonString());
        Assert.Equal("pg", (string?)pb.Keychain![0]!["name"]);
        var start = pb.Steps[0];
        Assert.Equal("""{"kind":"http","url":"https://x","custom_field":{"kept":true}}""", start.Tool.ToJsonString());
        Assert.Equal("""{"a":1}""", start.Input!.ToJsonString());
        Assert.Equal("""{"ctx.x":1}""", start.Set!.ToJsonString());
        Assert.Equal("""{"timeout":5}""", start.Spec!.ToJsonString());
        Assert.False(pb.IsImplicitEnd("end"));
    }

    /// <summary>Python's <c>get_entry_step</c>: <c>executor.spec.entry_step</c>, else the first step; no step must be named start.</summary>
    [Theory]
    [InlineData("", "load")]
    [InlineData("executor: {spec: {entry_step: report}}\n", "report")]
    public void The_entry_step_is_named_by_the_executor_or_is_the_first_step(string executor, string expected)
    {
        var parsed = Parse($$"""
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata: {name: entry}
            {{executor}}workflow:
              - step: load
                tool: {kind: noop}
                next: report
              - step: report
                tool: {kind: noop}
            """);
        Assert.True(parsed.IsValid, string.Join("; ", parsed.Errors.Select(e => e.Message)));
        Assert.Equal(expected, parsed.Playbook!.EntryStep);
    }

    [Fact]
    public void Every_problem_is_listed_with_its_path()
    {
        var errors = Errors("""
            apiVersion: noetl.io/v10
            kind: Workflow
            metadata: {}
            executor: {spec: {entry_step: nowhere}}
            workflow:
              - step: first
                tool: {kind: noop}
                next: [{step: ghost}]
              - step: first
                case: []
              - tool: {kind: noop}
              - step: looper
                loop: {in: [1], spec: {mode: sideways, max_in_flight: 0}}
                tool: {kind: noop}
            """);
        Assert.Equal("""
            apiVersion: unsupported apiVersion 'noetl.io/v10', expected 'noetl.io/v2'
            kind: unsupported kind 'Workflow', expected 'Playbook'
            metadata.name: metadata.name is required
            workflow[1].step: duplicate step name 'first'
            workflow[2].step: step name is required
            executor.spec.entry_step: entry step 'nowhere' is not a step in the workflow
            workflow[0].next: next target 'ghost' is not a step in the workflow
            workflow[1].case: 'case' blocks are not supported; use next: {arcs: [{step, when}]} instead
            workflow[1].tool: tool is required
            workflow[3].loop.iterator: loop.iterator is required
            workflow[3].loop.spec.mode: loop mode must be 'sequential' or 'parallel', got '"sideways"'
            workflow[3].loop.spec.max_in_flight: max_in_flight must be a positive integer
            """.ReplaceLineEndings("\n"), errors);
        Assert.Null(Parse("apiVersion: x").Playbook);
    }

    [Theory]
    [InlineData("kind: Playbook\nmetadata: {name: x}\nworkflow: [{step: start, tool: {kind: noop}}]", "apiVersion: apiVersion is required and must be 'noetl.io/v2'")]
    [InlineData("apiVersion: noetl.io/v2\nmetadata: {name: x}\nworkflow: [{step: start, tool: {kind: noop}}]", "kind: kind is required and must be 'Playbook'")]
    [InlineData("apiVersion: noetl.io/v2\nkind: Playbook\nworkflow: [{step: start, tool: {kind: noop}}]", "metadata: metadata is required and must be a mapping")]
    [InlineData("apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: x}", "workflow: workflow must be a non-empty list of steps")]
    [InlineData("apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: x}\nworkflow: []", "workflow: workflow must be a non-empty list of steps")]
    [InlineData("apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: x}\nworkload: [1]\nworkflow: [{step: start, tool: {kind: noop}}]", "workload: workload must be a mapping")]
    [InlineData("apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: x}\nkeychain: {a: 1}\nworkflow: [{step: start, tool: {kind: noop}}]", "keychain: keychain must be a list")]
    [InlineData("apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: x}\nworkflow: [5]", "workflow[0]: a step must be a mapping")]
    public void Header_rules(string yaml, string expected) => Assert.Contains(expected, Errors(yaml));

    [Theory]
    [InlineData("tool: noop", "workflow[0].tool: tool must be a mapping with a kind, or a non-empty list of named tools")]
    [InlineData("tool: []", "workflow[0].tool: tool must be a mapping with a kind, or a non-empty list of named tools")]
    [InlineData("tool: {url: x}", "workflow[0].tool.kind: tool kind is required")]
    [InlineData("tool: [5]", "workflow[0].tool[0]: a pipeline item must be a mapping")]
    [InlineData("tool: {kind: workbook, name: missing}", "workflow[0].tool.name: unknown workbook task 'missing'")]
    [InlineData("tool: {kind: noop}\n    when: '{{ x }}'", "workflow[0].when: step-level 'when' is not supported; put the condition on the incoming arc")]
    [InlineData("tool: {kind: noop}\n    input: [1]", "workflow[0].input: input must be a mapping")]
    [InlineData("tool: {kind: noop}\n    set: x", "workflow[0].set: set must be a mapping")]
    [InlineData("tool: {kind: noop}\n    spec: 3", "workflow[0].spec: spec must be a mapping")]
    [InlineData("tool: {kind: noop}\n    next: 5", "workflow[0].next: next must be a step name, a list, or {spec, arcs}")]
    [InlineData("tool: {kind: noop}\n    next: {arcs: x}", "workflow[0].next.arcs: next.arcs must be a list of arcs")]
    [InlineData("tool: {kind: noop}\n    next: {spec: {mode: random}, arcs: []}", "workflow[0].next.spec.mode: next mode must be 'exclusive' or 'inclusive', got '\"random\"'")]
    [InlineData("tool: {kind: noop}\n    next: [{when: x}]", "workflow[0].next[0]: an arc needs a target 'step'")]
    [InlineData("tool: {kind: noop}\n    next: [{step: end, when: [1]}]", "workflow[0].next[0].when: when must be a template string or a boolean")]
    [InlineData("tool: {kind: noop}\n    next: [{step: end, set: 1}]", "workflow[0].next[0].set: set must be a mapping")]
    [InlineData("tool: {kind: noop}\n    next: [{when: x, then: [a]}]", "workflow[0].next[0]: an arc needs a target 'step'")]
    [InlineData("tool: {kind: noop}\n    next: [{step: end, then: [a]}]", "workflow[0].next[0]: 'then'/'else' arcs are the removed case syntax; use {step, when}")]
    [InlineData("tool: {kind: noop}\n    loop: [1]", "workflow[0].loop: loop must be a mapping")]
    [InlineData("tool: {kind: noop}\n    loop: {iterator: x}", "workflow[0].loop.in: loop.in is required")]
    [InlineData("tool: {kind: noop}\n    loop: {cursor: {kind: postgres}, iterator: x}", "workflow[0].loop.cursor: cursor loops are not supported")]
    [InlineData("tool: {kind: noop}\n    loop: {in: [1], iterator: x, spec: 3}", "workflow[0].loop.spec: loop.spec must be a mapping")]
    public void Step_rules(string stepBody, string expected) =>
        Assert.Contains(expected, Errors(Header + "workflow:\n  - step: start\n    " + stepBody));

    [Fact]
    public void Workbook_rules()
    {
        var errors = Errors(Header + """
            workbook:
              - {tool: {kind: noop}}
              - {name: a, tool: {url: x}}
              - {name: b, kind: noop}
              - {name: b, kind: noop}
            workflow:
              - step: start
                tool: {kind: noop}
            """);
        Assert.Equal("""
            workbook[0]: a workbook task needs a name
            workbook[1]: workbook task 'a' needs a tool with a kind
            workbook[3].name: duplicate workbook task 'b'
            """.ReplaceLineEndings("\n"), errors);
        Assert.Contains("workbook: workbook must be a list of tasks", Errors(Header + "workbook: {}\nworkflow: [{step: start, tool: {kind: noop}}]"));
    }

    [Fact]
    public void Next_forms_normalize_to_arcs()
    {
        var pb = Valid(Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next: a
              - step: a
                tool: {kind: noop}
                next: [b, c]
              - step: b
                tool: {kind: noop}
                next: [{step: c, when: "{{ x }}", args: {k: 1}}]
              - step: c
                tool: {kind: noop}
                spec: {next_mode: inclusive}
                next: [{step: d, when: true}, {step: end, set: {ctx.done: true}}]
              - step: d
                tool: {kind: noop}
                next:
                  spec: {mode: inclusive}
                  arcs: [{step: end, when: false}]
            """);
        Assert.Equal([new Arc("a", null, null)], pb.FindStep("start")!.Arcs);
        Assert.Equal(["b", "c"], pb.FindStep("a")!.Arcs.Select(a => a.Step));
        Assert.Equal(NextMode.Inclusive, pb.FindStep("a")!.Next!.Mode);
        Assert.Equal(NextMode.Exclusive, pb.FindStep("b")!.Next!.Mode);
        var legacy = pb.FindStep("b")!.Arcs.Single();
        Assert.Equal(("c", "{{ x }}", """{"k":1}"""), (legacy.Step, legacy.When, legacy.Set!.ToJsonString()));
        Assert.Equal(NextMode.Inclusive, pb.FindStep("c")!.Next!.Mode);
        Assert.Equal(["true", null], pb.FindStep("c")!.Arcs.Select(a => a.When));
        Assert.Equal(NextMode.Inclusive, pb.FindStep("d")!.Next!.Mode);
        Assert.Equal("false", pb.FindStep("d")!.Arcs.Single().When);
        Assert.Equal(
            """{"spec":{"mode":"exclusive"},"arcs":[{"step":"c","when":"{{ x }}","set":{"k":1}}]}""",
            pb.Document["workflow"]![2]!["next"]!.ToJsonString());
    }

    [Fact]
    public void Loops_parse_modes_and_budgets()
    {
        var pb = Valid(Header + """
            workflow:
              - step: start
                loop: {in: "{{ items }}", iterator: item}
                tool: {kind: noop}
                next: p
              - step: p
                loop: {in: [1, 2], iterator: n, spec: {mode: parallel, max_in_flight: 4}}
                tool: {kind: noop}
            """);
        var sequential = pb.FindStep("start")!.Loop!;
        Assert.Equal(("item", LoopMode.Sequential, (int?)null, "\"{{ items }}\""), (sequential.Iterator, sequential.Mode, sequential.MaxInFlight, sequential.In!.ToJsonString()));
        var parallel = pb.FindStep("p")!.Loop!;
        Assert.Equal(("n", LoopMode.Parallel, (int?)4), (parallel.Iterator, parallel.Mode, parallel.MaxInFlight));
    }

    [Fact]
    public void Workbook_references_resolve_with_the_step_input_winning()
    {
        var pb = Valid(Header + """
            workbook:
              - name: query
                tool: {kind: postgres, auth: pg, command: "select 1", args: {limit: 10, schema: public}}
              - name: flat
                kind: http
                url: https://x
            workflow:
              - step: start
                tool: {kind: workbook, name: query, input: {limit: 5}, timeout: 3}
                next: second
              - step: second
                tool: {kind: workbook, name: flat}
            """);
        Assert.Equal(
            """{"kind":"postgres","auth":"pg","command":"select 1","input":{"limit":5,"schema":"public"},"timeout":3}""",
            pb.FindStep("start")!.Tool.ToJsonString());
        Assert.Equal(pb.FindStep("start")!.Tool.ToJsonString(), pb.Document["workflow"]![0]!["tool"]!.ToJsonString());
        Assert.Equal("""{"kind":"http","url":"https://x"}""", pb.FindStep("second")!.Tool.ToJsonString());
    }

    [Fact]
    public void Pipeline_items_with_workbook_names_resolve()
    {
        var pb = Valid(Header + """
            workbook:
              - {name: flat, kind: http, url: "https://x"}
            workflow:
              - step: start
                tool:
                  - fetch: {kind: workbook, name: flat}
                  - {name: store, kind: postgres, command: "insert"}
            """);
        var step = pb.FindStep("start")!;
        Assert.True(step.IsPipeline);
        Assert.Equal("task_sequence", step.ToolKind);
        Assert.Equal("""[{"kind":"http","url":"https://x","name":"fetch"},{"name":"store","kind":"postgres","command":"insert"}]""", step.Tool.ToJsonString());
    }

    [Fact]
    public void Parse_does_not_modify_its_input()
    {
        var document = PlaybookDocument.LoadYaml(Header + "workflow: [{step: start, tool: {kind: noop}, next: end}]");
        var before = document.ToJsonString();
        var pb = Playbook.Parse(document).Playbook!;
        Assert.Equal(before, document.ToJsonString());
        Assert.NotEqual(before, pb.Document.ToJsonString());
    }

    [Fact]
    public void End_target_is_allowed_without_an_end_step()
    {
        var pb = Valid(Header + "workflow: [{step: start, tool: {kind: noop}, next: end}]");
        Assert.Equal("end", pb.FindStep("start")!.Arcs.Single().Step);
    }

    [Fact]
    public void Workflows_past_the_step_limit_are_refused()
    {
        var steps = string.Concat(Enumerable.Range(0, 1_001).Select(i => $"  - step: {(i == 0 ? "start" : $"s{i}")}\n    tool: {{kind: noop}}\n"));
        Assert.Equal("workflow: workflow has 1001 steps, more than the limit of 1000", Errors(Header + "workflow:\n" + steps));
        var limits = new PlaybookLimits { MaxSteps = 1_001 };
        Assert.True(Playbook.Parse(PlaybookDocument.LoadYaml(Header + "workflow:\n" + steps), limits).IsValid);
    }

    [Fact]
    public void Workflows_past_the_arc_limit_are_refused()
    {
        var arcs = string.Join(", ", Enumerable.Repeat("{step: end, when: \"{{ false }}\"}", 10_001));
        var yaml = Header + $"workflow:\n  - step: start\n    tool: {{kind: noop}}\n    next: {{arcs: [{arcs}]}}\n";
        Assert.Equal("workflow: workflow has 10001 arcs, more than the limit of 10000", Errors(yaml));
        Assert.True(Playbook.Parse(PlaybookDocument.LoadYaml(yaml), new PlaybookLimits { MaxArcs = 10_001 }).IsValid);
    }

    [Fact]
    public void Templates_the_server_renders_are_parsed_at_registration()
    {
        var errors = Errors(Header + """
            workflow:
              - step: start
                tool: {kind: noop}
                next:
                  arcs:
                    - {step: load, when: "start.n >", set: {a: "{{ x | nope }}"}}
              - step: load
                tool:
                  kind: postgres
                  query: "select {{ n | frobnicate }}"
                  headers: {X-Id: "{{ id"}
                  spec: {policy: "{{ output | worker_only }}"}
                input: {items: [1, "{{ n is prime }}"]}
                set: {total: "{% for x in n %}"}
                loop: {in: "{{ rows | what }}", iterator: r}
            """);
        Assert.Equal(string.Join("\n",
            "workflow[0].next.arcs[0].when: step 'start': next.arcs[0].when: expected an expression (at position 10)",
            "workflow[0].next.arcs[0].set.a: step 'start': next.arcs[0].set.a: unknown filter 'nope' (at position 7)",
            "workflow[1].tool.query: step 'load': tool.query: unknown filter 'frobnicate' (at position 14)",
            "workflow[1].tool.headers.X-Id: step 'load': tool.headers.X-Id: unclosed tag, expected '}}' (at position 0)",
            "workflow[1].input.items[1]: step 'load': input.items[1]: unknown test 'prime' (at position 5)",
            "workflow[1].set.total: step 'load': set.total: missing '{% endfor %}' (at position 16)",
            "workflow[1].loop.in: step 'load': loop.in: unknown filter 'what' (at position 10)"), errors);
    }

    [Fact]
    public void Templates_the_worker_renders_are_left_to_it()
    {
        Valid(Header + """
            workflow:
              - step: start
                tool:
                  kind: python
                  code: "x = 1"
                  auth: "{{ keychain.pg | worker_filter }}"
                  spec: {policy: {rules: [{when: "{{ output.status | worker_filter }}"}]}}
                next: pipe
              - step: pipe
                tool:
                  - name: a
                    kind: postgres
                    command: "{{ unclosed"
                    input: {x: "{{ a | worker_filter }}"}
                    args: {y: "{% if %}"}
                    set: {z: "{{ nope | nope }}"}
                    spec: {w: "{{ | }}"}
            workload: {note: "{{ rendered | by_whoever_reads_it }}"}
            """);
    }

    [Fact]
    public void Template_nesting_is_checked_at_registration()
    {
        var deep = "{{ " + new string('(', 100) + "1" + new string(')', 100) + " }}";
        var yaml = Header + $"workflow:\n  - step: start\n    tool: {{kind: noop, x: \"{deep}\"}}\n";
        Assert.Equal("workflow[0].tool.x: step 'start': tool.x: template nesting deeper than 64 levels (at position 0)", Errors(yaml));
        var limits = new PlaybookLimits { Templates = new TemplateLimits { MaxDepth = 128 } };
        Assert.True(Playbook.Parse(PlaybookDocument.LoadYaml(yaml), limits).IsValid);
    }

    /// <summary>The playbooks shipped in the repository still register with every check on.</summary>
    [Fact]
    public void Repository_playbooks_pass_the_checks()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "NoEtl.sln")))
            root = root.Parent;
        Assert.NotNull(root);
        var files = new[] { "examples", "playbooks" }
            .SelectMany(dir => Directory.EnumerateFiles(Path.Combine(root.FullName, dir), "*.y*ml", SearchOption.AllDirectories))
            .ToList();
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var document = PlaybookDocument.LoadYaml(File.ReadAllText(file));
            if ((string?)document["kind"] is "Playbook" or null)
                Assert.True(Playbook.Parse(document).IsValid, $"{file}: {string.Join("; ", Playbook.Parse(document).Errors.Select(e => $"{e.Path}: {e.Message}"))}");
        }
    }
}
