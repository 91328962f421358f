using NoEtl.Worker.Runtime;
using NoEtl.Worker.Tools;

namespace NoEtl.Worker.Tests;

public class HttpToolTests(HttpFixture fixture) : IClassFixture<HttpFixture>
{
    private string Url => fixture.Server.Url;

    private ToolExecutor Executor(WorkerKeychain? keychain = null) => TestKit.Executor(TestKit.Server(TestKit.Options(Url)), keychain);

    private Task<ToolOutcome> Run(string config, WorkerKeychain? keychain = null) =>
        Executor(keychain).ExecuteAsync("http", TestKit.Obj(config.Replace("BASE", Url)), TestKit.Context(), CancellationToken.None);

    [Fact]
    public async Task Get_with_params_and_headers_returns_status_headers_and_json_data()
    {
        var outcome = await Run("""{"url": "BASE/echo", "params": {"q": "a b", "n": 2}, "headers": {"X-Trace": "t1"}}""");
        Assert.True(outcome.Ok);
        Assert.Equal(200, outcome.Data!["status"]!.GetValue<int>());
        Assert.Equal("?q=a%20b&n=2", outcome.Data["data"]!["query"]!.GetValue<string>());
        Assert.Equal("t1", outcome.Data["data"]!["x_trace"]!.GetValue<string>());
        Assert.Contains("application/json", outcome.Data["headers"]!["content-type"]!.GetValue<string>());
        Assert.Null(outcome.Data["data"]!["auth"]);
    }

    [Fact]
    public async Task Post_json_body()
    {
        var outcome = await Run("""{"method": "post", "url": "BASE/echo", "json": {"k": [1, 2]}}""");
        Assert.Equal("POST", outcome.Data!["data"]!["method"]!.GetValue<string>());
        Assert.Equal("""{"k":[1,2]}""", outcome.Data["data"]!["body"]!.GetValue<string>());
        Assert.StartsWith("application/json", outcome.Data["data"]!["content_type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Non_json_body_is_text()
    {
        var outcome = await Run("""{"url": "BASE/text"}""");
        Assert.Equal("plain words", outcome.Data!["data"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(404, false)]
    [InlineData(500, true)]
    [InlineData(429, true)]
    public async Task Status_400_and_above_is_an_error_outcome_that_keeps_the_response(int status, bool retryable)
    {
        var outcome = await Run($$"""{"url": "BASE/status/{{status}}"}""");
        Assert.False(outcome.Ok);
        Assert.Equal("http", outcome.Error!.Kind);
        Assert.Equal(retryable, outcome.Error.Retryable);
        Assert.Equal(status, outcome.Data!["status"]!.GetValue<int>());
        Assert.Equal(status, outcome.Data["data"]!["code"]!.GetValue<int>());
        Assert.Equal(status, outcome.ToPolicyView()["http"]!["status"]!.GetValue<int>());
    }

    [Fact]
    public async Task Connection_failure_is_a_retryable_error()
    {
        var outcome = await Executor().ExecuteAsync("http", TestKit.Obj("""{"url": "http://127.0.0.1:1/x", "timeout": 5}"""), TestKit.Context(), CancellationToken.None);
        Assert.False(outcome.Ok);
        Assert.Equal("connection", outcome.Error!.Kind);
        Assert.True(outcome.Error.Retryable);
    }

    [Fact]
    public async Task Bearer_credential_comes_from_the_worker_keychain_first()
    {
        var keychain = new WorkerKeychain(new Dictionary<string, string> { ["NOETL_INTERNAL_API_TOKEN"] = "k-secret" });
        var before = fixture.Server.To("/api/credentials/NOETL_INTERNAL_API_TOKEN").Count();
        var outcome = await Run("""{"url": "BASE/echo", "auth": {"type": "bearer", "credential": "NOETL_INTERNAL_API_TOKEN"}}""", keychain);
        Assert.Equal("Bearer k-secret", outcome.Data!["data"]!["auth"]!.GetValue<string>());
        Assert.Equal(before, fixture.Server.To("/api/credentials/NOETL_INTERNAL_API_TOKEN").Count());
    }

    [Fact]
    public async Task Bearer_credential_falls_back_to_the_credentials_api()
    {
        var outcome = await Run("""{"url": "BASE/echo", "auth": {"type": "bearer", "credential": "svc"}}""");
        Assert.Equal("Bearer cred-token", outcome.Data!["data"]!["auth"]!.GetValue<string>());
        var lookup = fixture.Server.To("/api/credentials/svc").Last();
        Assert.Equal("?include_data=true&execution_id=42", lookup.Query);
    }

    [Fact]
    public async Task An_unknown_credential_is_not_sent_and_the_service_decides()
    {
        // A user pool asked for a secret it is not given (e.g. the internal token): the request goes out without it,
        // so the server's own answer (403) names the real reason.
        var outcome = await Run("""{"url": "BASE/echo", "auth": {"type": "bearer", "credential": "nope"}}""");
        Assert.True(outcome.Ok);
        Assert.Null(outcome.Data!["data"]!["auth"]);
    }

    [Fact]
    public async Task Keychain_templates_render_in_headers()
    {
        var keychain = new WorkerKeychain(new Dictionary<string, string> { ["API_KEY"] = "abc" });
        var executor = Executor(keychain);
        var command = new NoEtl.Worker.Commands.CommandNotification(42, 1, "7", "s", Url);
        var claim = TestKit.Obj("""{"context": {"tool_config": {"kind": "http", "url": "BASE/echo", "headers": {"X-Trace": "{{ keychain.API_KEY }}"}}}}""".Replace("BASE", Url));
        var claimed = NoEtl.Worker.Commands.ClaimedCommand.From(command, claim);
        var outcome = await executor.ExecuteAsync(claimed.Kind, claimed.ToolConfig, claimed.ToContext(keychain), CancellationToken.None);
        Assert.Equal("abc", outcome.Data!["data"]!["x_trace"]!.GetValue<string>());
    }
}
