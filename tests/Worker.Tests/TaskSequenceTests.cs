using System.Text.Json.Nodes;
using NoEtl.Worker.Templates;
using NoEtl.Worker.Tools;

namespace NoEtl.Worker.Tests;

/// <summary>Worker-side pipelines and task policies (continue | retry | break | jump | fail), with real HTTP failures.</summary>
public class TaskSequenceTests(HttpFixture fixture) : IClassFixture<HttpFixture>
{
    private string Url => fixture.Server.Url;

    private ToolExecutor Executor() => TestKit.Executor(TestKit.Server(TestKit.Options(Url)));

    [Fact]
    public async Task Retry_policy_with_exponential_backoff_until_success()
    {
        var delays = new List<TimeSpan>();
        var sequence = Sequence(delays);
        var tasks = new JsonArray(Obj("""
            {"name": "fetch", "kind": "http", "url": "BASE/flaky/exp?fails=2",
             "spec": {"policy": {"rules": [
               {"when": "{{ output.http.status >= 500 }}", "then": {"do": "retry", "attempts": 5, "backoff": "exponential", "delay": 0.5}}]}}}
            """));
        var result = await sequence.RunAsync(tasks, TestKit.Context(), CancellationToken.None);
        Assert.True(result.Ok, result.Error);
        Assert.Equal(3, fixture.Calls("exp"));
        Assert.Equal([TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(1)], delays);
        Assert.True(result.Results["fetch"]!["data"]!["ok"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Retry_policy_linear_backoff_exhausts_and_fails()
    {
        var delays = new List<TimeSpan>();
        var tasks = new JsonArray(Obj("""
            {"name": "fetch", "kind": "http", "url": "BASE/flaky/lin?fails=10",
             "spec": {"policy": {"rules": [{"when": "{{ output.error.retryable }}", "then": {"do": "retry", "attempts": 3, "backoff": "linear", "delay": 1}}]}}}
            """));
        var result = await Sequence(delays).RunAsync(tasks, TestKit.Context(), CancellationToken.None);
        Assert.False(result.Ok);
        Assert.Contains("after 3 attempts", result.Error);
        Assert.Equal(3, fixture.Calls("lin"));
        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)], delays);
    }

    [Fact]
    public async Task Continue_rule_lets_a_404_through_to_the_next_task()
    {
        var tasks = Arr("""
            [{"name": "lookup", "kind": "http", "url": "BASE/status/404",
              "spec": {"policy": {"rules": [{"when": "{{ output.http.status == 404 }}", "then": {"do": "continue", "set": {"ctx.found": false}}}]}}},
             {"name": "after", "kind": "noop", "result": {"found": "{{ ctx.found }}", "prev_status": "{{ _prev.status }}"}}]
            """);
        var result = await Sequence([]).RunAsync(tasks, TestKit.Context(), CancellationToken.None);
        Assert.True(result.Ok, result.Error);
        Assert.False(result.Results["after"]!["found"]!.GetValue<bool>());
        Assert.Equal(404, result.Results["after"]!["prev_status"]!.GetValue<long>());
        Assert.False(result.ContextUpdates["found"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Error_without_a_matching_rule_fails_the_pipeline()
    {
        var tasks = Arr("""
            [{"name": "a", "kind": "http", "url": "BASE/status/500"}, {"name": "b", "kind": "noop"}]
            """);
        var result = await Sequence([]).RunAsync(tasks, TestKit.Context(), CancellationToken.None);
        Assert.False(result.Ok);
        Assert.Null(result.Results["b"]);
    }

    [Fact]
    public async Task Break_and_fail_rules()
    {
        var breaking = JsonNode.Parse("""
            [{"name": "a", "kind": "noop", "result": {"v": 1}, "spec": {"policy": {"rules": [{"when": "{{ output.data.v == 1 }}", "then": {"do": "break"}}]}}},
             {"name": "b", "kind": "noop"}]
            """)!.AsArray();
        var broke = await Sequence([]).RunAsync(breaking, TestKit.Context(), CancellationToken.None);
        Assert.True(broke.Ok);
        Assert.True(broke.Results.ContainsKey("a"));
        Assert.False(broke.Results.ContainsKey("b"));

        var failing = JsonNode.Parse("""
            [{"name": "a", "kind": "noop", "result": {"rows": []},
              "spec": {"policy": {"rules": [{"when": "{{ output.data.rows | length == 0 }}", "then": {"do": "fail"}}, {"else": {"then": {"do": "continue"}}}]}}}]
            """)!.AsArray();
        var failed = await Sequence([]).RunAsync(failing, TestKit.Context(), CancellationToken.None);
        Assert.False(failed.Ok);
        Assert.Contains("task 'a' failed", failed.Error);
    }

    [Fact]
    public async Task Jump_rule_loops_until_the_else_branch()
    {
        var tasks = JsonNode.Parse("""
            [{"name": "inc", "kind": "noop", "result": {"n": "{{ (ctx.n | default(0) | int) + 1 }}"}, "set": {"ctx.n": "{{ output.data.n }}"},
              "spec": {"policy": {"rules": [{"when": "{{ output.data.n < 3 }}", "then": {"do": "jump", "to": "inc"}}, {"else": {"then": {"do": "continue"}}}]}}},
             {"name": "after", "kind": "noop", "result": {"final": "{{ ctx.n | int }}", "from_inc": "{{ inc.n }}"}}]
            """)!.AsArray();
        var result = await Sequence([]).RunAsync(tasks, TestKit.Context(), CancellationToken.None);
        Assert.True(result.Ok, result.Error);
        Assert.Equal(3, result.Results["after"]!["final"]!.GetValue<long>());
        Assert.Equal(3, result.Results["after"]!["from_inc"]!.GetValue<long>());
        Assert.Equal("3", result.ContextUpdates["n"]!.GetValue<string>());
    }

    [Fact]
    public async Task Jump_to_an_unknown_task_fails()
    {
        var tasks = JsonNode.Parse("""[{"name": "a", "kind": "noop", "spec": {"policy": {"rules": [{"then": {"do": "jump", "to": "zzz"}}]}}}]""")!.AsArray();
        var result = await Sequence([]).RunAsync(tasks, TestKit.Context(), CancellationToken.None);
        Assert.False(result.Ok);
        Assert.Contains("unknown task 'zzz'", result.Error);
    }

    [Fact]
    public async Task Task_sequence_command_answers_status_prev_results_and_ctx()
    {
        var config = TestKit.Obj("""
            {"tasks": [{"name": "one", "kind": "noop", "result": {"x": 1}, "set": {"ctx.total": "{{ output.data.x + 1 }}"}},
                       {"two": {"kind": "noop", "result": {"y": "{{ one.x }}", "z": "{{ results.one.x }}", "total": "{{ ctx.total | int }}"}}}]}
            """);
        var outcome = await Executor().ExecuteAsync("task_sequence", config, TestKit.Context(), CancellationToken.None);
        Assert.True(outcome.Ok, outcome.Error?.Message);
        Assert.Equal("""{"status":"success","_prev":{"y":1,"z":1,"total":2},"results":{"one":{"x":1},"two":{"y":1,"z":1,"total":2}},"ctx":{"total":"2"}}""",
            outcome.Data!.ToJsonString());

        var failing = TestKit.Obj("""{"tasks": [{"name": "one", "kind": "noop", "result": {"x": 1}}, {"name": "two", "kind": "shell", "command": "exit 3"}]}""");
        var failed = await Executor().ExecuteAsync("task_sequence", failing, TestKit.Context(), CancellationToken.None);
        Assert.False(failed.Ok);
        Assert.Equal("failed", failed.Data!["status"]!.GetValue<string>());
        Assert.Equal("""{"x":1}""", failed.Data["_prev"]!.ToJsonString());
        Assert.Contains("task 'two' failed", failed.Data["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_else_without_then_is_ignored()
    {
        var tasks = Arr("""
            [{"name": "a", "kind": "noop", "result": {"v": 1}, "spec": {"policy": {"rules": [{"else": {"do": "fail"}}]}}},
             {"name": "b", "kind": "noop", "result": {"v": 2}}]
            """);
        var result = await Sequence([]).RunAsync(tasks, TestKit.Context(), CancellationToken.None);
        Assert.True(result.Ok, result.Error);
        Assert.Equal(2, result.Results["b"]!["v"]!.GetValue<int>());
    }

    [Fact]
    public async Task Policy_and_task_set_values_are_rendered_as_text_with_json_mappings_and_lists_parsed()
    {
        var tasks = Arr("""
            [{"name": "a", "kind": "noop", "result": {"n": 5, "code": "02134"},
              "set": {"ctx.count": "{{ output.data.n }}", "ctx.zip": "{{ output.data.code }}", "ctx.literal": 7},
              "spec": {"policy": {"rules": [{"when": "{{ output.status == 'ok' }}",
                "then": {"do": "continue", "set": {"ctx.flag": "{{ true }}", "ctx.items": "{{ [1, 2] }}", "ctx.map": "{{ {'k': output.data.n} }}", "ctx.label": "n={{ output.data.n }}"}}}]}}}]
            """);
        var result = await Sequence([]).RunAsync(tasks, TestKit.Context(), CancellationToken.None);
        Assert.True(result.Ok, result.Error);
        Assert.Equal("""{"flag":"True","items":[1,2],"map":{"k":5},"label":"n=5","count":"5","zip":"02134","literal":7}""", result.ContextUpdates.ToJsonString());
    }

    [Fact]
    public async Task Single_tool_with_policy_rules_retries_on_the_worker()
    {
        var config = Obj("""
            {"url": "BASE/flaky/single?fails=1",
             "spec": {"policy": {"rules": [{"when": "{{ output.status == 'error' }}", "then": {"do": "retry", "attempts": 3, "delay": 0.01}}]}}}
            """);
        var outcome = await Executor().ExecuteAsync("http", config, TestKit.Context(), CancellationToken.None);
        Assert.True(outcome.Ok, outcome.Error?.Message);
        Assert.Equal(2, outcome.Data!["data"]!["try"]!.GetValue<int>());
    }

    private JsonObject Obj(string json) => TestKit.Obj(json.Replace("BASE", Url));

    private JsonArray Arr(string json) => JsonNode.Parse(json.Replace("BASE", Url))!.AsArray();

    private TaskSequenceTool Sequence(List<TimeSpan> delays)
    {
        var executor = Executor();
        return new TaskSequenceTool(new OrchestrationTemplates(), executor.ExecuteAsync)
        {
            Delay = (delay, _) =>
            {
                delays.Add(delay);
                return Task.CompletedTask;
            },
        };
    }
}
