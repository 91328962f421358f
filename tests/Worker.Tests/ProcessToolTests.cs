using System.Text.Json.Nodes;
using NoEtl.Worker.Tools;

namespace NoEtl.Worker.Tests;

public class ProcessToolTests
{
    private static readonly ToolExecutor Executor = TestKit.Executor(TestKit.Server(TestKit.Options("http://127.0.0.1:1")));

    private static Task<ToolOutcome> Run(string kind, string config, JsonObject? input = null, JsonObject? variables = null) =>
        Executor.ExecuteAsync(kind, TestKit.Obj(config), TestKit.Context(input: input, variables: variables), CancellationToken.None);

    [Fact]
    public async Task Python_result_variable_with_bound_inputs_and_noisy_stdout()
    {
        var outcome = await Run("python", """{"code": "print('noise {')\nresult = {'sum': a + b, 'names': [n.upper() for n in names]}"}""",
            TestKit.Obj("""{"a": 2, "b": 40, "names": ["x", "y"]}"""));
        Assert.True(outcome.Ok, outcome.Error?.Message);
        Assert.Equal("""{"sum":42,"names":["X","Y"]}""", outcome.Data!.ToJsonString());
    }

    [Fact]
    public async Task Python_main_gets_inputs_as_keyword_arguments()
    {
        var outcome = await Run("python", """{"code": "def main(x, y=1):\n    return {'product': x * y}", "input": {"y": 5}}""",
            TestKit.Obj("""{"x": 3, "unused": true}"""));
        Assert.True(outcome.Ok, outcome.Error?.Message);
        Assert.Equal(15, outcome.Data!["product"]!.GetValue<int>());
    }

    [Fact]
    public async Task Python_scalar_result_is_wrapped_for_the_event_context()
    {
        var outcome = await Run("python", """{"code": "def main():\n    return 7"}""");
        Assert.True(outcome.Ok);
        Assert.Equal("""{"data":7}""", outcome.ContextObject().ToJsonString());
    }

    [Fact]
    public async Task Python_exception_is_an_error_with_traceback()
    {
        var outcome = await Run("python", """{"code": "raise ValueError('bad input')"}""");
        Assert.False(outcome.Ok);
        Assert.Contains("ValueError: bad input", outcome.Error!.Message);
        Assert.Contains("Traceback", outcome.Data!["traceback"]!.GetValue<string>());
    }

    [Fact]
    public async Task Python_hard_exit_is_an_error()
    {
        var outcome = await Run("python", """{"code": "import os\nos._exit(3)"}""");
        Assert.False(outcome.Ok);
        Assert.Contains("code 3", outcome.Error!.Message);
    }

    [Fact]
    public async Task Shell_string_runs_under_sh()
    {
        var outcome = await Run("shell", """{"command": "echo out; echo err >&2; printf '%s' \"$GREETING\"", "env": {"GREETING": "hey"}}""");
        Assert.True(outcome.Ok);
        Assert.Equal(0, outcome.Data!["exit_code"]!.GetValue<int>());
        Assert.Equal("out\nhey", outcome.Data["stdout"]!.GetValue<string>());
        Assert.Equal("err", outcome.Data["stderr"]!.GetValue<string>());
    }

    [Fact]
    public async Task Shell_list_runs_without_a_shell()
    {
        var outcome = await Run("shell", """{"command": ["printf", "%s-%s", "a b", "$HOME"]}""");
        Assert.Equal("a b-$HOME", outcome.Data!["stdout"]!.GetValue<string>());
    }

    [Fact]
    public async Task Shell_non_zero_exit_is_an_error_with_output()
    {
        var outcome = await Run("shell", """{"command": "echo partial; exit 4"}""");
        Assert.False(outcome.Ok);
        Assert.Equal("4", outcome.Error!.Code);
        Assert.Equal(4, outcome.Data!["exit_code"]!.GetValue<int>());
        Assert.Equal("partial", outcome.Data["stdout"]!.GetValue<string>());
    }

    [Fact]
    public async Task Shell_timeout_kills_the_process()
    {
        var started = DateTime.UtcNow;
        var outcome = await Run("shell", """{"command": "sleep 30", "timeout": 0.5}""");
        Assert.False(outcome.Ok);
        Assert.Equal("timeout", outcome.Error!.Kind);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Noop_returns_its_result_as_the_server_rendered_it()
    {
        var outcome = await Run("noop", """{"result": {"v": 5, "text": "{{ workload.n }}"}}""", variables: TestKit.Obj("""{"workload": {"n": 5}}"""));
        Assert.Equal("""{"v":5,"text":"{{ workload.n }}"}""", outcome.Data!.ToJsonString());
        var empty = await Run("noop", "{}");
        Assert.Equal("{}", empty.Data!.ToJsonString());
    }

    [Fact]
    public async Task Unknown_kind_is_an_error_outcome()
    {
        var outcome = await Run("duckdb", "{}");
        Assert.False(outcome.Ok);
        Assert.Contains("unsupported tool kind", outcome.Error!.Message);
    }
}
