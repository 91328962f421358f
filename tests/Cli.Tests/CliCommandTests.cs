using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace NoEtl.Cli.Tests;

/// <summary>Runs the CLI in-process against a fake NoETL server and checks requests, output and exit codes.</summary>
public sealed class CliCommandTests : IAsyncLifetime
{
    private const string ExecutionId = "612345678000000001";
    private const string Playbook =
        "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: hello, path: examples/hello}\nworkflow:\n"
        + "  - step: start\n    tool: {kind: noop}\n    next: {arcs: [{step: shout}]}\n  - step: shout\n    tool: {kind: noop}\n";

    private FakeNoEtlServer _server = null!;
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();
    private readonly Dictionary<string, string> _env = [];
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"noetl-cli-{Guid.NewGuid():N}.yaml");

    public async Task InitializeAsync()
    {
        _server = await FakeNoEtlServer.StartAsync();
        File.WriteAllText(_file, Playbook);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        File.Delete(_file);
    }

    private Task<int> Run(params string[] args)
    {
        var host = new CliHost(_out, _err, name => _env.GetValueOrDefault(name), Interactive: false)
        {
            PollInterval = TimeSpan.FromMilliseconds(5),
        };
        return CliApp.RunAsync(["--server", _server.Url, .. args], host);
    }

    private static (int, string) Registered() =>
        (200, """{"status":"success","message":"Resource 'examples/hello' version '3' registered.","path":"examples/hello","version":3,"catalog_id":"555","kind":"playbook"}""");

    private static (int, string) Started() => (200, $$"""{"execution_id":"{{ExecutionId}}","status":"started","commands_generated":1}""");

    private static List<JsonObject> TwoStepRun(bool fail) =>
    [
        FakeExecution.Event(1, "playbook.initialized", "examples/hello", "initialized", 0),
        FakeExecution.Event(2, "workflow.initialized", "workflow", "initialized", 0),
        FakeExecution.Event(3, "command.issued", "start", "PENDING", 0.1),
        FakeExecution.Event(4, "command.claimed", "start", "RUNNING", 0.2),
        FakeExecution.Event(5, "command.started", "start", "RUNNING", 0.2),
        FakeExecution.Event(6, "call.done", "start", "COMPLETED", 0.5),
        FakeExecution.Event(7, "command.issued", "shout", "PENDING", 0.6),
        FakeExecution.Event(8, "command.completed", "start", "COMPLETED", 0.6),
        FakeExecution.Event(9, "command.claimed", "shout", "RUNNING", 0.7),
        fail
            ? FakeExecution.Event(10, "call.error", "shout", "FAILED", 1.9, "division by zero")
            : FakeExecution.Event(10, "call.done", "shout", "COMPLETED", 0.8),
        fail
            ? FakeExecution.Event(11, "playbook.failed", "examples/hello", "failed", 2)
            : FakeExecution.Event(11, "playbook.completed", "examples/hello", "completed", 0.9),
    ];

    [Fact]
    public async Task Register_sends_the_file_base64_and_prints_path_version_and_catalog_id()
    {
        _server.Handler = _ => Registered();

        Assert.Equal(0, await Run("register", _file));

        var request = Assert.Single(_server.Requests);
        Assert.Equal(("POST", "/api/catalog/register"), (request.Method, request.Path));
        Assert.Equal(Playbook, Encoding.UTF8.GetString(Convert.FromBase64String(request.Json["content"]!.ToString())));
        Assert.Equal("Playbook", request.Json["resource_type"]!.ToString());
        Assert.Null(request.Authorization);
        Assert.Equal("registered examples/hello version 3 (catalog_id 555)\n", _out.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Token_is_sent_as_bearer_from_the_option_or_the_environment()
    {
        _server.Handler = _ => Registered();
        _env["NOETL_API_TOKEN"] = "from-env";

        await Run("register", _file);
        await Run("register", _file, "--token", "from-option");

        Assert.Equal(["Bearer from-env", "Bearer from-option"], _server.Requests.Select(r => r.Authorization));
    }

    [Fact]
    public async Task Exec_sends_path_version_workload_and_kind_and_prints_the_id()
    {
        _server.Handler = _ => Started();

        Assert.Equal(0, await Run("exec", "examples/hello", "--version", "2", "--input", """{"name":"noetl"}"""));

        var body = Assert.Single(_server.Requests).Json;
        Assert.Equal("examples/hello", body["path"]!.ToString());
        Assert.Equal(2, (int)body["version"]!);
        Assert.Equal("""{"name":"noetl"}""", body["workload"]!.ToJsonString());
        Assert.Equal("playbook", body["resource_kind"]!.ToString());
        Assert.Equal(ExecutionId, _out.ToString().Trim());
    }

    [Fact]
    public async Task Exec_without_version_leaves_it_out_and_sends_an_empty_workload()
    {
        _server.Handler = _ => Started();

        await Run("exec", "examples/hello", "--json");

        var body = Assert.Single(_server.Requests).Json;
        Assert.False(body.ContainsKey("version"));
        Assert.Equal("{}", body["workload"]!.ToJsonString());
        Assert.Equal(ExecutionId, JsonNode.Parse(_out.ToString())!["execution_id"]!.ToString());
    }

    [Theory]
    [InlineData("COMPLETED", 0)]
    [InlineData("FAILED", 1)]
    [InlineData("CANCELLED", 1)]
    public async Task Exec_wait_polls_status_and_exits_by_the_outcome(string outcome, int exitCode)
    {
        var execution = new FakeExecution(ExecutionId, outcome, TwoStepRun(fail: false), revealPerRead: 4);
        // Each status read advances the fake run, so the first reads are RUNNING.
        _server.Handler = r => r.Path == "/api/execute" ? Started() : StatusAfterReads(execution, r);

        Assert.Equal(exitCode, await Run("exec", "examples/hello", "--wait"));

        Assert.True(_server.Requests.Count(r => r.Path.EndsWith("/status")) > 1);
        Assert.StartsWith($"{outcome} in 1.5s (execution {ExecutionId})", _out.ToString().Split('\n')[1]);
    }

    private static (int, string) StatusAfterReads(FakeExecution execution, RecordedRequest request)
    {
        execution.Answer(request with { Path = $"/api/executions/{ExecutionId}" });
        return execution.Answer(request);
    }

    [Fact]
    public async Task Events_reads_every_page_of_the_newest_first_log_and_prints_one_line_per_event_in_order()
    {
        var events = Enumerable.Range(1, 230).Select(i => FakeExecution.Event(i, "command.heartbeat", "s", "RUNNING", i)).ToList();
        var execution = new FakeExecution(ExecutionId, "COMPLETED", events, revealPerRead: 1000);
        _server.Handler = execution.Answer;

        Assert.Equal(0, await Run("events", ExecutionId, "--json"));

        Assert.Equal(["1", "2", "3"], _server.Requests.Select(r => r.Query["page"].FirstOrDefault()));
        Assert.All(_server.Requests, r => Assert.Null(r.Query["since_event_id"].FirstOrDefault()));
        var ids = _out.ToString().Trim().Split('\n').Select(l => long.Parse(JsonNode.Parse(l)!["event_id"]!.ToString())).ToList();
        Assert.Equal(Enumerable.Range(1, 230).Select(i => (long)i), ids);
    }

    [Fact]
    public async Task Events_follow_polls_until_terminal_and_emits_json_lines()
    {
        var execution = new FakeExecution(ExecutionId, "COMPLETED", TwoStepRun(fail: false), revealPerRead: 3);
        _server.Handler = execution.Answer;

        Assert.Equal(0, await Run("events", ExecutionId, "--follow", "--json"));

        var ids = _out.ToString().Trim().Split('\n').Select(l => long.Parse(JsonNode.Parse(l)!["event_id"]!.ToString())).ToList();
        Assert.Equal(Enumerable.Range(1, 11).Select(i => (long)i), ids);
        Assert.Contains(_server.Requests, r => r.Query["since_event_id"] == "3");
    }

    [Fact]
    public async Task Run_registers_executes_the_registered_version_and_prints_step_progress()
    {
        var execution = new FakeExecution(ExecutionId, "COMPLETED", TwoStepRun(fail: false));
        _server.Handler = r => r.Path switch
        {
            "/api/catalog/register" => Registered(),
            "/api/execute" => Started(),
            _ => execution.Answer(r),
        };

        Assert.Equal(0, await Run("run", _file, "--input", """{"name":"x"}"""));

        var execute = _server.Requests.Single(r => r.Path == "/api/execute").Json;
        Assert.Equal(3, (int)execute["version"]!);
        Assert.Equal("x", execute["workload"]!["name"]!.ToString());
        Assert.Equal(
            """
            registered examples/hello version 3 (catalog_id 555)
            execution 612345678000000001 started
            [1/2] start ... started
            [1/2] start ... done (0.3s)
            [2/2] shout ... started
            [2/2] shout ... done (0.1s)
            COMPLETED in 1.5s (execution 612345678000000001)

            """.ReplaceLineEndings("\n"),
            _out.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Run_exits_1_and_shows_the_error_when_the_playbook_fails()
    {
        var execution = new FakeExecution(ExecutionId, "FAILED", TwoStepRun(fail: true));
        _server.Handler = r => r.Path switch
        {
            "/api/catalog/register" => Registered(),
            "/api/execute" => Started(),
            _ => execution.Answer(r),
        };

        Assert.Equal(1, await Run("run", _file));

        Assert.Contains("[2/2] shout ... failed (1.2s): division by zero", _out.ToString());
        Assert.Contains("FAILED in 1.5s", _out.ToString());
    }

    [Fact]
    public async Task Run_on_a_terminal_shows_a_live_line_instead_of_started_lines()
    {
        var execution = new FakeExecution(ExecutionId, "COMPLETED", TwoStepRun(fail: false), revealPerRead: 1);
        _server.Handler = r => r.Path switch
        {
            "/api/catalog/register" => Registered(),
            "/api/execute" => Started(),
            _ => execution.Answer(r),
        };
        var host = new CliHost(_out, _err, _ => null, Interactive: true) { PollInterval = TimeSpan.FromMilliseconds(5) };

        Assert.Equal(0, await CliApp.RunAsync(["--server", _server.Url, "run", _file], host));

        var output = _out.ToString();
        Assert.DoesNotContain("... started", output);
        Assert.Contains("\r\u001b[2K[1/2] start ... done (0.3s)", output);
        // The spinner line for the running step: a frame, the step and its elapsed time.
        Assert.Matches(@"\r\u001b\[2K\S \[1/2\] start \.\.\. \d", output);
    }

    [Fact]
    public async Task Cancel_sends_the_reason_and_prints_the_answer()
    {
        _server.Handler = _ => (200, $$"""{"status":"cancelled","execution_id":"{{ExecutionId}}","cancelled_executions":["{{ExecutionId}}"],"message":"Cancelled 1 execution(s)"}""");

        Assert.Equal(0, await Run("cancel", ExecutionId, "--reason", "stop it"));

        var request = Assert.Single(_server.Requests);
        Assert.Equal($"/api/executions/{ExecutionId}/cancel", request.Path);
        Assert.Equal("stop it", request.Json["reason"]!.ToString());
        Assert.StartsWith("cancelled: Cancelled 1 execution(s)", _out.ToString());
    }

    [Fact]
    public async Task Status_prints_the_fields()
    {
        var execution = new FakeExecution(ExecutionId, "COMPLETED", [], revealPerRead: 0);
        _server.Handler = execution.Answer;

        Assert.Equal(0, await Run("status", ExecutionId));

        Assert.Contains("status     COMPLETED", _out.ToString());
        Assert.Contains($"execution  {ExecutionId}", _out.ToString());
    }

    [Theory]
    [InlineData(404, """{"detail":"Execution not found"}""", "error: HTTP 404 Not Found: Execution not found")]
    [InlineData(422, """{"detail":[{"loc":["path","execution_id"],"msg":"execution_id must be an integer"}]}""",
        "error: HTTP 422 Unprocessable Entity: path.execution_id: execution_id must be an integer")]
    [InlineData(503, """{"detail":{"code":"pool_saturated","message":"busy"}}""", "error: HTTP 503 Service Unavailable: busy (pool_saturated)")]
    public async Task Http_errors_print_the_detail_and_exit_1(int status, string body, string expected)
    {
        _server.Handler = _ => (status, body);

        Assert.Equal(1, await Run("status", "42"));

        Assert.Equal(expected, _err.ToString().Trim());
        Assert.Empty(_out.ToString());
    }

    [Fact]
    public async Task An_unreachable_server_exits_3()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var host = new CliHost(_out, _err, _ => null, Interactive: false);

        Assert.Equal(3, await CliApp.RunAsync(["status", "1", "--server", $"http://127.0.0.1:{port}"], host));

        Assert.StartsWith($"error: cannot reach the NoETL server at http://127.0.0.1:{port}/", _err.ToString());
    }

    [Fact]
    public async Task The_server_comes_from_the_environment_when_no_option_is_given()
    {
        _server.Handler = _ => Registered();
        _env["NOETL_SERVER_URL"] = _server.Url;
        var host = new CliHost(_out, _err, name => _env.GetValueOrDefault(name), Interactive: false);

        Assert.Equal(0, await CliApp.RunAsync(["register", _file], host));

        Assert.Single(_server.Requests);
    }

    [Theory]
    [InlineData("exec")]
    [InlineData("status", "1", "2")]
    [InlineData("frobnicate")]
    [InlineData("register", "/no/such/file.yaml")]
    [InlineData("exec", "p", "--version", "0")]
    [InlineData("status", "1", "--server", "not a url")]
    public async Task Usage_errors_exit_2_without_calling_the_server(params string[] args)
    {
        Assert.Equal(2, await Run(args));

        Assert.StartsWith("error: ", _err.ToString());
        Assert.Empty(_server.Requests);
    }

    [Fact]
    public async Task Help_lists_the_commands_and_each_command_has_its_own()
    {
        Assert.Equal(0, await Run("--help"));
        Assert.Equal(0, await Run("run", "--help"));
        Assert.Equal(0, await Run("help", "events"));

        var help = _out.ToString();
        Assert.Contains("register ", help);
        Assert.Contains("usage: noetl run FILE [--input JSON|@file]", help);
        Assert.Contains("--follow", help);
    }
}
