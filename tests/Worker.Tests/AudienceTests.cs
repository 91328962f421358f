using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using NoEtl.Worker.Commands;
using NoEtl.Worker.Runtime;
using NoEtl.Worker.Tools;

namespace NoEtl.Worker.Tests;

/// <summary>
/// Credentials reach only their audience: the server tokens only the configured server, a credential with
/// <c>allowed_hosts</c> only those hosts, and no credential follows a redirect to another origin.
/// "server" is the configured control plane; "target" and "foreign" are two other origins.
/// </summary>
public class AudienceTests : IAsyncLifetime
{
    private const string InternalToken = "internal-secret-0123456789";

    private FakeHttp _server = null!;
    private FakeHttp _target = null!;
    private FakeHttp _foreign = null!;

    public async Task InitializeAsync()
    {
        _target = await FakeHttp.StartAsync((app, _) => MapUpstream(app));
        _foreign = await FakeHttp.StartAsync((app, _) => MapUpstream(app));
        var targetHost = new Uri(_target.Url).Authority;
        _server = await FakeHttp.StartAsync((app, _) =>
        {
            MapUpstream(app);
            app.MapGet("/api/credentials/{name}", (string name) => FakeHttp.Json(new JsonObject
            {
                ["name"] = name,
                ["data"] = name switch
                {
                    "scoped" => new JsonObject { ["access_token"] = "scoped-token", ["allowed_hosts"] = new JsonArray("api.example.com", targetHost) },
                    _ => new JsonObject { ["access_token"] = "svc-token" },
                },
            }));
            app.MapPost("/api/commands/{id}/claim", () => FakeHttp.Json(JsonNode.Parse($$"""
                {"execution_id": 100, "meta": {"command_id": 300},
                 "context": {"tool_config": {"kind": "http", "url": "{{_foreign.Url}}/echo", "auth": {"type": "bearer", "credential": "NOETL_INTERNAL_API_TOKEN"} } } }
                """)!));
            app.MapPost("/api/events", () => FakeHttp.Json(new JsonObject { ["status"] = "ok" }));
        });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _target.DisposeAsync();
        await _foreign.DisposeAsync();
    }

    [Fact]
    public async Task Internal_token_goes_to_the_configured_server_and_never_to_another_origin()
    {
        var atServer = await Run($$"""{"url": "{{_server.Url}}/echo", "auth": {"type": "bearer", "credential": "NOETL_INTERNAL_API_TOKEN"} }""");
        Assert.True(atServer.Ok, atServer.Error?.Message);
        Assert.Equal($"Bearer {InternalToken}", atServer.Data!["data"]!["auth"]!.GetValue<string>());

        foreach (var auth in new[] { """{"type": "bearer", "credential": "NOETL_INTERNAL_API_TOKEN"}""", "\"NOETL_INTERNAL_API_TOKEN\"" })
        {
            var outcome = await Run($$"""{"url": "{{_foreign.Url}}/echo", "auth": {{auth}}}""");
            Assert.False(outcome.Ok);
            Assert.False(outcome.Error!.Retryable);
            Assert.Equal($"credential 'NOETL_INTERNAL_API_TOKEN' is bound to {Origin(_server)} and is not sent to {Origin(_foreign)}", outcome.Error.Message);
        }
        Assert.Empty(_foreign.Requests);
    }

    [Fact]
    public async Task A_command_that_aims_the_internal_token_elsewhere_ends_in_call_error_and_sends_nothing()
    {
        var options = TestKit.Options(_server.Url, InternalToken);
        var client = TestKit.Server(options);
        var keychain = Keychain();
        var runner = new CommandRunner(client, TestKit.Executor(client, keychain), keychain, options, NullLogger<CommandRunner>.Instance);
        var notification = new CommandNotification(100, 200, "300", "leak", _server.Url);
        var claim = await runner.ClaimAsync(notification, CancellationToken.None);
        await runner.RunAsync(notification, claim.Command!, CancellationToken.None);

        Assert.Empty(_foreign.Requests);
        var events = _server.To("/api/events").Select(e => e.Body!).ToList();
        Assert.Equal(["command.started", "call.error", "command.failed"], events.Select(e => e["name"]!.GetValue<string>()));
        Assert.Equal($"credential 'NOETL_INTERNAL_API_TOKEN' is bound to {Origin(_server)} and is not sent to {Origin(_foreign)}",
            events[1]["payload"]!["error"]!["message"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"headers": {"Authorization": "Bearer {{ keychain.NOETL_INTERNAL_API_TOKEN }}"}}""")]
    [InlineData("""{"headers": {"X-Internal": "{{ secrets.NOETL_INTERNAL_API_TOKEN }}"}}""")]
    [InlineData("""{"params": {"t": "{{ keychain.NOETL_INTERNAL_API_TOKEN }}"}}""")]
    [InlineData("""{"method": "POST", "json": {"t": "{{ keychain.NOETL_INTERNAL_API_TOKEN }}"}}""")]
    [InlineData("""{"auth": {"type": "basic", "username": "u", "password": "{{ keychain.NOETL_INTERNAL_API_TOKEN }}"}}""")]
    [InlineData("""{"auth": {"type": "header", "header": "X-Key", "token": "{{ keychain.NOETL_API_TOKEN }}"}}""")]
    public async Task A_rendered_server_token_is_refused_anywhere_but_the_configured_server(string template)
    {
        var config = TestKit.Obj(template);
        config["url"] = $"{_foreign.Url}/echo";
        var outcome = await RunConfig(config);
        Assert.False(outcome.Ok);
        Assert.Equal("auth", outcome.Error!.Kind);
        Assert.Matches($"^credential 'NOETL_(INTERNAL_)?API_TOKEN' is bound to {Origin(_server)} and is not sent to {Origin(_foreign)}$", outcome.Error.Message);
        Assert.Empty(_foreign.Requests);

        // The same request to the configured server goes out; other keychain entries stay unrestricted.
        config["url"] = $"{_server.Url}/echo";
        Assert.True((await RunConfig(config)).Ok);
        var other = await Run($$$"""{"url": "{{{_foreign.Url}}}/echo", "headers": {"X-Api-Key": "{{ keychain.API_KEY }}"}}""");
        Assert.Equal("api-key-value", other.Data!["data"]!["x_api_key"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_credential_with_allowed_hosts_goes_only_there_and_the_list_is_not_sent()
    {
        var allowed = await Run($$"""{"method": "POST", "url": "{{_target.Url}}/echo", "auth": {"type": "header", "header": "X-Api-Key", "credential": "scoped"} }""");
        Assert.True(allowed.Ok, allowed.Error?.Message);
        Assert.Equal("scoped-token", allowed.Data!["data"]!["x_api_key"]!.GetValue<string>());
        Assert.DoesNotContain("api.example.com", allowed.Data["data"]!.ToJsonString());

        var refused = await Run($$"""{"url": "{{_foreign.Url}}/echo", "auth": "scoped"}""");
        Assert.False(refused.Ok);
        Assert.Equal($"credential 'scoped' is bound to api.example.com, {new Uri(_target.Url).Authority} and is not sent to {Origin(_foreign)}", refused.Error!.Message);
        Assert.Empty(_foreign.Requests);

        var credential = await new CredentialResolver(TestKit.Server(TestKit.Options(_server.Url)), Keychain()).ResolveAsync("scoped", 42, CancellationToken.None);
        Assert.Equal("""{"access_token":"scoped-token"}""", credential.Data.ToJsonString());
        // No allowed_hosts: unchanged, any host.
        var unscoped = await Run($$"""{"url": "{{_foreign.Url}}/echo", "auth": {"type": "bearer", "credential": "svc"} }""");
        Assert.Equal("Bearer svc-token", unscoped.Data!["data"]!["auth"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"type": "bearer", "credential": "svc"}""", "auth")]
    [InlineData("""{"type": "header", "header": "X-Api-Key", "credential": "svc"}""", "x_api_key")]
    public async Task A_redirect_to_another_origin_does_not_carry_the_credential_but_a_same_origin_one_does(string auth, string echoed)
    {
        var across = await Run($$"""{"url": "{{_target.Url}}/redirect?code=302&to={{Uri.EscapeDataString(_foreign.Url + "/echo")}}", "auth": {{auth}}}""");
        Assert.True(across.Ok, across.Error?.Message);
        Assert.Single(_foreign.To("/echo"));
        Assert.Null(across.Data!["data"]![echoed]);

        var same = await Run($$"""{"url": "{{_target.Url}}/redirect?code=302&to=%2Fecho", "auth": {{auth}}}""");
        Assert.EndsWith("svc-token", same.Data!["data"]![echoed]!.GetValue<string>());
    }

    [Fact]
    public async Task Every_redirect_hop_is_checked_and_307_keeps_the_method_and_body()
    {
        // Allowed at the configured server, refused where it redirects to: nothing reaches the foreign origin.
        var refused = await Run($$$"""
            {"url": "{{{_server.Url}}}/redirect?code=302&to={{{Uri.EscapeDataString(_foreign.Url + "/echo")}}}", "headers": {"X-Internal": "{{ keychain.NOETL_INTERNAL_API_TOKEN }}"}}
            """);
        Assert.False(refused.Ok);
        Assert.Contains($"is not sent to {Origin(_foreign)}", refused.Error!.Message);
        Assert.Empty(_foreign.Requests);

        var kept = await Run($$"""{"method": "POST", "url": "{{_target.Url}}/redirect?code=307&to={{Uri.EscapeDataString(_foreign.Url + "/echo")}}", "json": {"k": 1} }""");
        Assert.Equal("POST", kept.Data!["data"]!["method"]!.GetValue<string>());
        Assert.Equal("""{"k":1}""", kept.Data["data"]!["body"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("https://api.example.com/x", true)]
    [InlineData("http://API.Example.COM:8080/x", true)]
    [InlineData("https://a.b.example.org/x", true)]
    [InlineData("https://example.org/x", false)]
    [InlineData("https://evilexample.org/x", false)]
    [InlineData("https://example.com:8443/x", true)]
    [InlineData("https://example.com/x", false)]
    [InlineData("https://api.example.com.evil.net/x", false)]
    [InlineData("http://[::1]:9000/x", true)]
    public void Allowed_hosts_match_host_any_port_host_port_and_subdomain_wildcards(string url, bool allowed)
    {
        var audience = Audience.AllowedHosts("c", new JsonArray("api.example.com", "*.EXAMPLE.org", "example.com:8443", "[::1]"));
        Assert.Equal(allowed, audience.Allows(new Uri(url)));
    }

    [Fact]
    public void Malformed_allowed_hosts_fail_closed()
    {
        Assert.Throws<CredentialException>(() => Audience.AllowedHosts("c", new JsonObject()));
        Assert.Throws<CredentialException>(() => Audience.AllowedHosts("c", new JsonArray("ok.example", 5)));
        Assert.False(Audience.AllowedHosts("c", new JsonArray()).Allows(new Uri("https://anything.example")));
        Assert.True(Audience.AllowedHosts("c", JsonValue.Create("a.example, b.example")).Allows(new Uri("https://b.example")));
    }

    private static void MapUpstream(WebApplication app)
    {
        app.MapMethods("/echo", ["GET", "POST"], async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            return FakeHttp.Json(new JsonObject
            {
                ["method"] = request.Method,
                ["query"] = request.QueryString.Value,
                ["auth"] = request.Headers.Authorization.FirstOrDefault(),
                ["x_api_key"] = request.Headers["X-Api-Key"].FirstOrDefault(),
                ["body"] = await reader.ReadToEndAsync(),
            });
        });
        app.MapMethods("/redirect", ["GET", "POST"], (int code, string to) =>
            Results.Redirect(to, permanent: code is 301 or 308, preserveMethod: code is 307 or 308));
    }

    private static WorkerKeychain Keychain() => new(new Dictionary<string, string>
    {
        ["NOETL_INTERNAL_API_TOKEN"] = InternalToken,
        ["NOETL_API_TOKEN"] = "api-token-0123456789",
        ["API_KEY"] = "api-key-value",
    });

    private static string Origin(FakeHttp server) => Audience.Origin(new Uri(server.Url));

    private Task<ToolOutcome> Run(string config) => RunConfig(TestKit.Obj(config));

    private Task<ToolOutcome> RunConfig(JsonObject config)
    {
        var keychain = Keychain();
        var executor = TestKit.Executor(TestKit.Server(TestKit.Options(_server.Url)), keychain);
        var variables = new JsonObject { ["keychain"] = keychain.ToJson(), ["secrets"] = keychain.ToJson() };
        return executor.ExecuteAsync("http", config, TestKit.Context(variables: variables), CancellationToken.None);
    }
}
