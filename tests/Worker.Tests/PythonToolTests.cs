using System.Text;
using System.Text.Json.Nodes;
using NoEtl.Worker.Tools;

namespace NoEtl.Worker.Tests;

/// <summary>The python tool as NoETL's worker runs it (v4.12.1 noetl/tools/python/executor.py, noetl-tools v2.24).</summary>
public class PythonToolTests
{
    private static readonly ToolExecutor Executor = TestKit.Executor(TestKit.Server(TestKit.Options("http://127.0.0.1:1")));

    private static Task<ToolOutcome> Run(JsonObject config, JsonObject? input = null, JsonObject? variables = null) =>
        Executor.ExecuteAsync("python", config, TestKit.Context(input: input, variables: variables), CancellationToken.None);

    private static Task<ToolOutcome> Run(string config, string? input = null, string? variables = null) =>
        Run(TestKit.Obj(config), input is null ? null : TestKit.Obj(input), variables is null ? null : TestKit.Obj(variables));

    private static JsonObject Code(string code) => new() { ["code"] = code };

    private static void AssertOk(ToolOutcome outcome) => Assert.True(outcome.Ok, outcome.Error?.Message);

    [Fact]
    public async Task Step_input_wins_over_tool_input_which_wins_over_tool_args()
    {
        var outcome = await Run("""
            {"code": "result = {'x': x, 'y': y, 'z': z}", "args": {"x": "args", "y": "args", "z": "args"}, "input": {"x": "tool input", "y": "tool input"}}
            """, input: """{"x": "step input"}""");
        AssertOk(outcome);
        Assert.Equal("""{"x":"step input","y":"tool input","z":"args"}""", outcome.Data!.ToJsonString());
    }

    [Fact]
    public async Task Args_still_holding_a_template_are_rendered_against_the_render_context()
    {
        var outcome = await Run("""{"code": "result = {'greeting': greeting, 'n': n}"}""",
            input: """{"greeting": "hi {{ workload.who }}", "n": "{{ ctx.n + 1 }}"}""",
            variables: """{"workload": {"who": "bob"}, "ctx": {"n": 41}}""");
        AssertOk(outcome);
        Assert.Equal("""{"greeting":"hi bob","n":42}""", outcome.Data!.ToJsonString());
    }

    [Fact]
    public async Task String_args_that_look_like_mappings_or_lists_are_parsed_as_json_or_python_literals()
    {
        var outcome = await Run("""
            {"code": "result = {k: [type(v).__name__, v] for k, v in input_data.items()}",
             "args": {"items": " [1, 2] ", "config": "{'on': True, 'n': None}", "broken": "{not a literal", "plain": "text"}}
            """);
        AssertOk(outcome);
        Assert.Equal(
            """{"items":["list",[1,2]],"config":["dict",{"on":true,"n":null}],"broken":["str","{not a literal"],"plain":["str","text"]}""",
            outcome.Data!.ToJsonString());
    }

    [Fact]
    public async Task Context_modules_data_and_input_data_are_pre_bound()
    {
        var outcome = await Run(Code("""
            result = {
                'who': context['workload']['who'],
                'sep': os.sep,
                'json': json.dumps([1]),
                'date': datetime.date(2024, 1, 2).isoformat(),
                'uuid': str(uuid.UUID(int=0)),
                'data': data,
                'input_data': input_data,
                'a': a,
            }
            """), input: TestKit.Obj("""{"a": 1}"""), variables: TestKit.Obj("""{"workload": {"who": "bob"}}"""));
        AssertOk(outcome);
        Assert.Equal(
            """{"who":"bob","sep":"/","json":"[1]","date":"2024-01-02","uuid":"00000000-0000-0000-0000-000000000000","data":{"a":1},"input_data":{"a":1},"a":1}""",
            outcome.Data!.ToJsonString());
    }

    [Fact]
    public async Task Code_starting_with_return_runs_as_a_function_whose_value_is_the_result()
    {
        var outcome = await Run(Code("return {'double': n * 2, 'text': '''line one\n  line two'''}"), input: TestKit.Obj("""{"n": 21}"""));
        AssertOk(outcome);
        Assert.Equal("""{"double":42,"text":"line one\n  line two"}""", outcome.Data!.ToJsonString());
    }

    [Fact]
    public async Task Main_parameters_come_from_the_args_then_context_input_context_data_and_context()
    {
        var outcome = await Run(Code("def main(a, b, c, d, e='default'):\n    return [a, b, c, d, e]"),
            input: TestKit.Obj("""{"a": "args"}"""),
            variables: TestKit.Obj("""{"input": {"a": "input", "b": "input"}, "data": {"b": "data", "c": "data"}, "c": "context", "d": "context"}"""));
        AssertOk(outcome);
        Assert.Equal("""["args","input","data","context","default"]""", outcome.Data!.ToJsonString());
    }

    [Fact]
    public async Task A_main_parameter_without_a_value_is_a_clear_error()
    {
        var outcome = await Run(Code("def main(customer_id):\n    return customer_id"));
        Assert.False(outcome.Ok);
        Assert.Equal("TypeError: main() parameter 'customer_id' has no value: it is not in the args, context.input, context.data or context", outcome.Error!.Message);
    }

    [Fact]
    public async Task Async_main_is_awaited()
    {
        var outcome = await Run(Code("import asyncio\nasync def main(n):\n    await asyncio.sleep(0)\n    return {'n': n + 1}"), input: TestKit.Obj("""{"n": 1}"""));
        AssertOk(outcome);
        Assert.Equal("""{"n":2}""", outcome.Data!.ToJsonString());
    }

    [Fact]
    public async Task Libs_are_imported_under_their_alias_or_their_name()
    {
        var mapped = await Run("""{"libs": {"m": "math", "b64": "base64"}, "code": "result = {'pi': round(m.pi, 2), 'b': b64.b64encode(b'hi').decode()}"}""");
        AssertOk(mapped);
        Assert.Equal("""{"pi":3.14,"b":"aGk="}""", mapped.Data!.ToJsonString());

        var listed = await Run("""{"libs": ["math", "os.path"], "code": "result = [math.floor(2.5), os.path.basename('/a/b')]"}""");
        AssertOk(listed);
        Assert.Equal("""[2,"b"]""", listed.Data!.ToJsonString());

        var missing = await Run("""{"libs": {"x": "no_such_module_here"}, "code": "result = 1"}""");
        Assert.False(missing.Ok);
        Assert.Contains("No module named 'no_such_module_here'", missing.Error!.Message);
    }

    [Fact]
    public async Task Code_b64_is_decoded()
    {
        var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes("result = {'from': 'b64', 'é': n}"));
        var outcome = await Run(new JsonObject { ["code_b64"] = encoded }, TestKit.Obj("""{"n": 1}"""));
        AssertOk(outcome);
        Assert.Equal("b64", outcome.Data!["from"]!.GetValue<string>());
        Assert.Equal(1, outcome.Data["é"]!.GetValue<int>());

        var garbage = await Run("""{"code_b64": "%%%not base64"}""");
        Assert.False(garbage.Ok);
        Assert.Equal("config", garbage.Error!.Kind);
    }

    [Fact]
    public async Task Script_files_are_read_below_the_script_base_path_only()
    {
        var folder = Path.Combine(TestKit.ScriptBase, "scripts", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var relative = Path.GetRelativePath(TestKit.ScriptBase, folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "transform.py"), "def main(n):\n    return {'script': n * 3}\n");

        var script = new JsonObject { ["uri"] = $"{relative}/transform.py", ["source"] = new JsonObject { ["type"] = "file" } };
        var outcome = await Run(new JsonObject { ["script"] = script, ["code"] = "result = 'code loses'" }, TestKit.Obj("""{"n": 5}"""));
        AssertOk(outcome);
        Assert.Equal("""{"script":15}""", outcome.Data!.ToJsonString());

        var outside = Path.Combine(Path.GetTempPath(), $"noetl-outside-{Guid.NewGuid():N}.py");
        await File.WriteAllTextAsync(outside, "result = 'escaped'");
        File.CreateSymbolicLink(Path.Combine(folder, "link.py"), outside);
        try
        {
            foreach (var uri in new[] { "../../../../../../etc/hostname", outside, $"file://{outside}", $"{relative}/link.py" })
            {
                var refused = await Run(new JsonObject { ["script"] = new JsonObject { ["uri"] = uri } });
                Assert.False(refused.Ok, uri);
                Assert.Contains("outside the script base path", refused.Error!.Message);
            }
        }
        finally
        {
            File.Delete(outside);
        }

        var missing = await Run(new JsonObject { ["script"] = new JsonObject { ["path"] = $"{relative}/nope.py" } });
        Assert.Contains("not found", missing.Error!.Message);
        var remote = await Run("""{"script": {"uri": "gs://bucket/x.py", "source": {"type": "gcs"}}}""");
        Assert.Contains("is not supported", remote.Error!.Message);
    }

    [Theory]
    [InlineData("error")]
    [InlineData("FAILED")]
    public async Task A_result_with_status_error_or_failed_fails_the_command(string status)
    {
        var outcome = await Run(Code($"result = {{'status': '{status}', 'error': 'upstream said no', 'rows': 0}}"));
        Assert.False(outcome.Ok);
        Assert.Equal("upstream said no", outcome.Error!.Message);
        Assert.Equal(0, outcome.Data!["rows"]!.GetValue<int>());
    }

    [Fact]
    public async Task Code_without_result_or_main_answers_the_success_envelope()
    {
        var outcome = await Run(Code("import math\ntotal = math.floor(n)\nn = n + 1\nprint('side effect')"), TestKit.Obj("""{"n": 1.5, "untouched": 1}"""));
        AssertOk(outcome);
        Assert.Equal("""{"status":"success","message":"Code executed successfully","locals_count":3,"locals_keys":["n","math","total"]}""",
            outcome.Data!.ToJsonString());
    }

    [Fact]
    public async Task Code_and_args_rendered_by_the_server_are_not_rendered_again()
    {
        // A workload value that is itself template text reaches the code verbatim, as NoETL's worker passes it.
        var outcome = await Run(Code("result = {'text': '{{ workload.who }}'}"), variables: TestKit.Obj("""{"workload": {"who": "bob"}}"""));
        AssertOk(outcome);
        Assert.Equal("{{ workload.who }}", outcome.Data!["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task Code_and_results_are_size_bounded()
    {
        var huge = await Run(Code("result = 1\n#" + new string('x', PythonTool.MaxCodeBytes)));
        Assert.False(huge.Ok);
        Assert.Contains("over the 1048576-byte limit", huge.Error!.Message);

        var big = await Run(Code($"result = 'x' * {PythonTool.MaxResultBytes + 1}"));
        Assert.False(big.Ok);
        Assert.Contains($"over the {PythonTool.MaxResultBytes}-byte limit", big.Error!.Message);
    }
}
