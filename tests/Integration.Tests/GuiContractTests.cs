using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;
using static NoEtl.Integration.Tests.Infrastructure.Bearers;

namespace NoEtl.Integration.Tests;

/// <summary>
/// NoETL's web GUI against this server, page by page (issue 16, part A): the calls its pages make, in their order,
/// with the fields they read — login, catalog View, Editor, Run dialog, Secrets, agents, the buttons this server
/// answers 501 — and what a caller holding only a worker token, or hostile input, gets from each new route.
/// </summary>
[Collection(SystemCollection.Name)]
public sealed class GuiContractTests(SystemFixture fixture)
{
    private HttpClient Http => fixture.Http;

    /// <summary>What the GUI sends after login: the token twice.</summary>
    private static Dictionary<string, string> SessionHeaders(string token) => new() { ["X-Session-Token"] = token };

    private Task<ApiResponse> AsGui(HttpMethod method, string route, object? body = null, string? rawBody = null) =>
        Http.Send(method, route, body, rawBody, bearer: Operator, headers: SessionHeaders(PrincipalTokens.Operator));

    private Task<ApiResponse> Validate(object body) => Http.Send(HttpMethod.Post, "/api/auth/validate", body, bearer: "");

    [Fact]
    public async Task Login_validates_a_token_without_an_authorization_header()
    {
        var asOperator = await Validate(new { session_token = PrincipalTokens.Operator });
        Assert.Equal(HttpStatusCode.OK, asOperator.Status);
        Assert.True(asOperator.Json["valid"]!.GetValue<bool>());
        var user = asOperator.Json["user"]!;
        Assert.Equal("operator", user["email"]!.GetValue<string>());
        Assert.Equal("operator", user["display_name"]!.GetValue<string>());
        Assert.Equal(["admin", "operator"], user["roles"]!.AsArray().Select(r => r!.GetValue<string>()));

        var asWorker = await Validate(new { session_token = PrincipalTokens.SharedPool });
        Assert.Equal(["worker"], asWorker.Json["user"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
        Assert.Equal("shared", asWorker.Json["user"]!["pool"]!.GetValue<string>());

        var marker = Guid.NewGuid().ToString("N");
        foreach (var token in new[] { "wrong-" + marker, "", PrincipalTokens.Operator + " " + marker })
        {
            var refused = await Validate(new { session_token = token });
            Assert.Equal(HttpStatusCode.OK, refused.Status);
            Assert.Equal("""{"valid":false}""", refused.Json.ToJsonString());
        }
        // Invalid tokens are refusals like any other: counted in the aggregated auth.denied audit of that route.
        await Eventually.WaitForAsync(async () => await fixture.System.AdminCountAsync(
            "SELECT coalesce(sum((detail->>'count')::bigint), 0)::bigint FROM noetl.audit WHERE action = 'auth.denied' AND route = 'POST /api/auth/validate'") >= 3,
            "the aggregated auth.denied rows of the login route");

        // After login the GUI sends the token as bearer and as X-Session-Token: accepted together.
        var catalog = await AsGui(HttpMethod.Post, "/api/catalog/list", new { });
        Assert.Equal(HttpStatusCode.OK, catalog.Status);
        Assert.Equal(HttpStatusCode.OK, (await Http.Send(HttpMethod.Get, "/api/executions", bearer: Operator,
            headers: SessionHeaders("something-else"))).Status);
        // The session header alone is no credential.
        Assert.Equal(HttpStatusCode.Unauthorized, (await Http.Send(HttpMethod.Get, "/api/executions", bearer: "",
            headers: SessionHeaders(PrincipalTokens.Operator))).Status);
    }

    [Theory]
    [InlineData("{\"session_token\": ")]
    [InlineData("{}")]
    [InlineData("{\"session_token\": 42}")]
    [InlineData("{\"session_token\": \"a\\u0000b\"}")]
    [InlineData("[\"x\"]")]
    public async Task Login_refuses_malformed_bodies_with_422_and_error_beside_detail(string body)
    {
        var response = await Http.Send(HttpMethod.Post, "/api/auth/validate", rawBody: body, bearer: "");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.Status);
        Assert.IsType<JsonArray>(response.Json["detail"]);
        Assert.False(string.IsNullOrEmpty(response.Json["error"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Catalog_view_and_editor_load_validate_and_save()
    {
        var path = $"tests/gui_editor_{Guid.NewGuid():N}";
        var (catalogId, _) = await Http.Register(Playbooks.OneStep(path));

        // View: by catalog id, and by path (its latest version).
        var byId = await AsGui(HttpMethod.Get, $"/api/catalog/playbook/content?playbook_id={catalogId}");
        Assert.Equal(HttpStatusCode.OK, byId.Status);
        Assert.Equal(Playbooks.OneStep(path), byId.Json["content"]!.GetValue<string>());
        Assert.Equal(byId.Text, (await AsGui(HttpMethod.Get, $"/api/catalog/playbook/content?playbook_id={Uri.EscapeDataString(path)}")).Text);

        // Editor: validate stores nothing.
        var edited = Playbooks.OneStep(path).Replace("kind: noop", "kind: noop\n    result: {edited: true}");
        var valid = await AsGui(HttpMethod.Post, "/api/catalog/playbooks/validate", new { content = edited });
        Assert.Equal(HttpStatusCode.OK, valid.Status);
        Assert.Equal("""{"valid":true,"errors":[]}""", valid.Json.ToJsonString());
        var broken = await AsGui(HttpMethod.Post, "/api/catalog/playbooks/validate", new { content = "workflow: [unclosed" });
        Assert.Equal(HttpStatusCode.OK, broken.Status);
        Assert.False(broken.Json["valid"]!.GetValue<bool>());
        Assert.StartsWith("content: Invalid YAML", broken.Json["errors"]![0]!.GetValue<string>());
        var noSteps = await AsGui(HttpMethod.Post, "/api/catalog/playbooks/validate",
            new { content = $"apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {{path: {path}}}\n" });
        Assert.False(noSteps.Json["valid"]!.GetValue<bool>());
        Assert.NotEmpty(noSteps.Json["errors"]!.AsArray());
        var system = await AsGui(HttpMethod.Post, "/api/catalog/playbooks/validate", new { content = Playbooks.OneStep("system/gui_probe") });
        Assert.False(system.Json["valid"]!.GetValue<bool>());
        Assert.Contains("system path", system.Json["errors"]![0]!.GetValue<string>());
        Assert.Equal(1, await VersionsAsync(path));
        Assert.Equal(0, await VersionsAsync("system/gui_probe"));

        // Save: a new version, the reply of /api/catalog/register.
        var saved = await AsGui(HttpMethod.Put, $"/api/catalog/playbook/content?playbook_id={catalogId}", new { content = edited });
        Assert.True(saved.Status == HttpStatusCode.OK, saved.Text);
        Assert.Equal("success", saved.Json["status"]!.GetValue<string>());
        Assert.Equal(path, saved.Json["path"]!.GetValue<string>());
        Assert.Equal(2, saved.Json["version"]!.GetValue<int>());
        Assert.Equal("playbook", saved.Json["kind"]!.GetValue<string>());
        Assert.NotEqual(catalogId.ToString(), saved.Json["catalog_id"]!.GetValue<string>());
        Assert.Equal(edited, (await AsGui(HttpMethod.Get, $"/api/catalog/playbook/content?playbook_id={Uri.EscapeDataString(path)}")).Json["content"]!.GetValue<string>());
        var byPath = await AsGui(HttpMethod.Put, $"/api/catalog/playbook/content?playbook_id={Uri.EscapeDataString(path)}", new { content = Playbooks.OneStep(path) });
        Assert.Equal(3, byPath.Json["version"]!.GetValue<int>());

        // Saving another playbook's content under this id, or a system path, is refused and stores nothing.
        var elsewhere = await AsGui(HttpMethod.Put, $"/api/catalog/playbook/content?playbook_id={catalogId}", new { content = Playbooks.OneStep(path + "_other") });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, elsewhere.Status);
        Assert.Contains("is not", elsewhere.Json["error"]!.GetValue<string>());
        var systemSave = await AsGui(HttpMethod.Put, "/api/catalog/playbook/content?playbook_id=system/scheduled_cleanup",
            new { content = Playbooks.OneStep("system/scheduled_cleanup") });
        Assert.Equal(HttpStatusCode.Forbidden, systemSave.Status);
        Assert.Equal("system_playbook", systemSave.Json["detail"]!["code"]!.GetValue<string>());
        Assert.Equal(3, await VersionsAsync(path));
        Assert.Equal(0, await VersionsAsync(path + "_other"));

        var unknown = await AsGui(HttpMethod.Get, "/api/catalog/playbook/content?playbook_id=tests/no_such_playbook");
        Assert.Equal(HttpStatusCode.NotFound, unknown.Status);
        Assert.Equal("Catalog entry not found", unknown.Json["detail"]!.GetValue<string>());
        Assert.Equal("Catalog entry not found", unknown.Json["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Run_dialog_reads_the_ui_schema_then_executes_with_the_form()
    {
        var path = $"tests/gui_run/{Guid.NewGuid():N}";
        await Http.Register($$"""
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata:
              name: Run dialog probe
              path: {{path}}
              description: Says **hello**
            workload:
              who: world          # ui:description=Whom to greet
              region: eu          # ui:enum=[eu, us]
              token: ""           # ui:secret
              db: pg_main         # ui:credential=pg_*
              times: 2
              nested:
                loud: false
            workflow:
              - step: start
                tool: {kind: noop}
            """);
        var schema = await AsGui(HttpMethod.Get, $"/api/catalog/{path}/ui_schema?version=latest");
        Assert.True(schema.Status == HttpStatusCode.OK, schema.Text);
        Assert.Equal(path, schema.Json["path"]!.GetValue<string>());
        Assert.Equal(1, schema.Json["version"]!.GetValue<int>());
        Assert.Equal("playbook", schema.Json["kind"]!.GetValue<string>());
        Assert.Equal("Run dialog probe", schema.Json["title"]!.GetValue<string>());
        Assert.Equal("Says **hello**", schema.Json["description_markdown"]!.GetValue<string>());
        Assert.True(schema.Json["exposed_in_ui"]!.GetValue<bool>());
        Assert.EndsWith("Z", schema.Json["generated_at"]!.GetValue<string>());
        var fields = schema.Json["fields"]!.AsArray().ToDictionary(f => f!["name"]!.GetValue<string>(), f => f!);
        Assert.Equal(["who", "region", "token", "db", "times", "nested"], fields.Keys);
        Assert.Equal("Whom to greet", fields["who"]["description"]!.GetValue<string>());
        Assert.Equal("enum", fields["region"]["kind"]!.GetValue<string>());
        Assert.Equal(["eu", "us"], fields["region"]["options"]!.AsArray().Select(o => o!.GetValue<string>()));
        Assert.True(fields["token"]["secret"]!.GetValue<bool>());
        Assert.Equal("pg_*", fields["db"]["credential_glob"]!.GetValue<string>());
        Assert.Equal("integer", fields["times"]["kind"]!.GetValue<string>());
        Assert.Equal("boolean", fields["nested"]["children"]![0]!["kind"]!.GetValue<string>());
        Assert.Equal(schema.Json["fields"]!.ToJsonString(), (await AsGui(HttpMethod.Get, $"/api/catalog/{path}/ui_schema?version=1")).Json["fields"]!.ToJsonString());

        // The form's values go to /api/execute as the workload.
        var workload = new JsonObject();
        foreach (var (name, field) in fields)
            workload[name] = field["default"]?.DeepClone();
        workload["who"] = "gui";
        var started = await AsGui(HttpMethod.Post, "/api/execute", new JsonObject { ["path"] = path, ["workload"] = workload });
        Assert.True(started.Status == HttpStatusCode.OK, started.Text);

        foreach (var (route, status) in new[]
        {
            ($"/api/catalog/{path}/ui_schema?version=2", HttpStatusCode.NotFound),
            ("/api/catalog/tests/no_such/ui_schema", HttpStatusCode.NotFound),
            ($"/api/catalog/{path}", HttpStatusCode.NotFound),
            ($"/api/catalog/{path}/ui_schema?version=two", HttpStatusCode.UnprocessableEntity),
            ($"/api/catalog/{path}/ui_schema?version=0", HttpStatusCode.UnprocessableEntity),
            ($"/api/catalog/{path}/ui_schema?version=99999999999", HttpStatusCode.UnprocessableEntity),
            ($"/api/catalog/{new string('p', 5000)}/ui_schema", HttpStatusCode.UnprocessableEntity),
        })
        {
            var refused = await AsGui(HttpMethod.Get, route);
            Assert.True(refused.Status == status, $"{route[..Math.Min(route.Length, 80)]}: {(int)refused.Status} {refused.Text}");
            Assert.NotNull(refused.Json["detail"]);
            Assert.IsType<string>(refused.Json["error"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task Secrets_page_views_edits_creates_and_deletes_with_audited_reads()
    {
        var name = $"gui_secret_{Guid.NewGuid():N}"[..28];
        var created = await AsGui(HttpMethod.Post, "/api/credentials", new { name, type = "httpBearerAuth", data = new { token = "gui-secret-one" }, description = "from the GUI" });
        Assert.True(created.Status == HttpStatusCode.OK, created.Text);
        Assert.Contains((await AsGui(HttpMethod.Get, "/api/credentials")).Json["items"]!.AsArray(), i => i!["name"]!.GetValue<string>() == name);

        var view = await AsGui(HttpMethod.Get, $"/api/credentials/{name}?include_data=true");
        Assert.Equal(HttpStatusCode.OK, view.Status);
        Assert.Equal("gui-secret-one", view.Json["data"]!["token"]!.GetValue<string>());
        await Eventually.WaitForAsync(async () => await fixture.System.AdminCountAsync(
            "SELECT count(*) FROM noetl.audit WHERE action = 'credential.read' AND principal = 'operator' AND outcome = 'ok' AND resource = $1", name) >= 1,
            "the operator's secret read in the audit");

        var edited = await AsGui(HttpMethod.Post, "/api/credentials", new { name, type = "httpBearerAuth", data = new { token = "gui-secret-two" } });
        Assert.Equal(HttpStatusCode.OK, edited.Status);
        Assert.Equal("gui-secret-two", (await AsGui(HttpMethod.Get, $"/api/credentials/{name}?include_data=true")).Json["data"]!["token"]!.GetValue<string>());

        Assert.Equal(HttpStatusCode.OK, (await AsGui(HttpMethod.Delete, $"/api/credentials/{name}")).Status);
        var gone = await AsGui(HttpMethod.Get, $"/api/credentials/{name}?include_data=true");
        Assert.Equal(HttpStatusCode.NotFound, gone.Status);
        // The credentials page shows `error`.
        Assert.Equal("Credential not found", gone.Json["error"]!.GetValue<string>());
        var invalid = await AsGui(HttpMethod.Post, "/api/credentials", new { name, data = "not an object" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.Status);
        Assert.Contains("body.data", invalid.Json["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Agents_list_has_the_agent_entries_only()
    {
        var path = $"tests/gui_agent_{Guid.NewGuid():N}";
        var before = await AsGui(HttpMethod.Post, "/api/catalog/agents/list");
        Assert.Equal(HttpStatusCode.OK, before.Status);
        Assert.DoesNotContain(before.Json["entries"]!.AsArray(), e => e!["kind"]!.GetValue<string>() != "agent");
        // This server's parser registers playbooks only; an agent entry is what NoETL's own server left in a shared catalog.
        await fixture.System.AdminScalarAsync(
            "INSERT INTO noetl.catalog (catalog_id, path, version, kind, content, payload, meta) VALUES (noetl.snowflake_id(), $1, 1, 'agent', $2, '{}', '{}')",
            path, Playbooks.OneStep(path));
        await Http.Register(Playbooks.OneStep(path + "_playbook"));

        var after = await AsGui(HttpMethod.Post, "/api/catalog/agents/list", new { });
        var entries = after.Json["entries"]!.AsArray();
        Assert.Contains(entries, e => e!["path"]!.GetValue<string>() == path);
        Assert.All(entries, e => Assert.Equal("agent", e!["kind"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await AsGui(HttpMethod.Post, "/api/catalog/agents/list", rawBody: "{\"x\": ")).Status);
    }

    [Theory]
    [InlineData("POST", "/api/executions/1/analyze/ai")]
    [InlineData("POST", "/api/catalog/playbooks/explain/ai")]
    [InlineData("POST", "/api/catalog/playbooks/generate/ai")]
    [InlineData("GET", "/api/playbook-tests/suites")]
    [InlineData("POST", "/api/playbook-tests/suites/demo/run")]
    [InlineData("DELETE", "/api/playbook-tests/suites/demo")]
    public async Task Features_this_server_does_not_offer_answer_501_with_a_detail(string method, string route)
    {
        var response = await AsGui(new HttpMethod(method), route, method == "POST" ? new { content = "x" } : null);
        Assert.Equal(HttpStatusCode.NotImplemented, response.Status);
        Assert.Contains("not offered", response.Json["detail"]!.GetValue<string>());
        Assert.Equal(response.Json["detail"]!.GetValue<string>(), response.Json["error"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Unauthorized, (await Http.Send(new HttpMethod(method), route, bearer: "")).Status);
        if (method == "POST")
            Assert.Equal(HttpStatusCode.UnprocessableEntity, (await AsGui(HttpMethod.Post, route, rawBody: "{\"x\": ")).Status);
    }

    [Fact]
    public async Task Unknown_routes_and_methods_answer_json_with_error_beside_detail()
    {
        foreach (var (method, route, bearer) in new[] { ("GET", "/api/no/such/route", Operator), ("GET", "/no-such-page", ""), ("POST", "/api/nothing", SharedPool) })
        {
            var response = await Http.Send(new HttpMethod(method), route, bearer: bearer);
            Assert.Equal(HttpStatusCode.NotFound, response.Status);
            Assert.Equal("application/json", response.Raw.Content.Headers.ContentType?.MediaType);
            Assert.Equal("""{"detail":"Not Found","error":"Not Found"}""", response.Json.ToJsonString());
        }
        var wrongMethod = await Http.Send(HttpMethod.Delete, "/api/catalog/register", bearer: Operator);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.Status);
        Assert.Equal("Method Not Allowed", wrongMethod.Json["error"]!.GetValue<string>());

        var unauthenticated = await Http.Send(HttpMethod.Get, "/api/executions", bearer: "");
        Assert.Equal(unauthenticated.Json["detail"]!.GetValue<string>(), unauthenticated.Json["error"]!.GetValue<string>());
        var forbidden = await Http.Send(HttpMethod.Get, "/api/audit", bearer: SharedPool);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.Status);
        Assert.Equal(forbidden.Json["detail"]!.GetValue<string>(), forbidden.Json["error"]!.GetValue<string>());
        var coded = await Http.Send(HttpMethod.Post, "/api/commands/1/claim", new { worker_id = "w" }, bearer: SharedPool);
        Assert.True((int)coded.Status >= 400, coded.Text);
        Assert.IsType<string>(coded.Json["error"]!.GetValue<string>());
    }

    public static TheoryData<string, string, string?> NewRoutesRefusingWorkers => new()
    {
        { "PUT", "/api/catalog/playbook/content?playbook_id=tests/worker_probe", """{"content": "x"}""" },
        { "POST", "/api/catalog/playbooks/validate", """{"content": "x"}""" },
        { "GET", "/api/credentials/worker_probe?include_data=true", null },
    };

    [Theory]
    [MemberData(nameof(NewRoutesRefusingWorkers))]
    public async Task A_worker_token_cannot_edit_the_catalog_nor_read_secrets_the_gui_way(string method, string route, string? body)
    {
        var refused = await Http.Send(new HttpMethod(method), route, rawBody: body, bearer: SharedPool,
            headers: SessionHeaders(PrincipalTokens.SharedPool));
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.False(string.IsNullOrEmpty(refused.Json["error"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_worker_token_reads_the_catalog_as_before_but_never_a_secret_without_its_execution()
    {
        var path = $"tests/gui_worker_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        Assert.Equal(HttpStatusCode.OK, (await Http.Send(HttpMethod.Get, $"/api/catalog/playbook/content?playbook_id={Uri.EscapeDataString(path)}", bearer: SharedPool)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Http.Send(HttpMethod.Get, $"/api/catalog/{path}/ui_schema", bearer: SharedPool)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Http.Send(HttpMethod.Post, "/api/catalog/agents/list", rawBody: "{}", bearer: SharedPool)).Status);
        Assert.Equal(1, await VersionsAsync(path));
    }

    public static TheoryData<string, string, string> HostileInputs => new()
    {
        { "PUT", "/api/catalog/playbook/content?playbook_id=x", "{\"content\": " },
        { "PUT", "/api/catalog/playbook/content?playbook_id=x", "{\"content\": 5}" },
        { "PUT", "/api/catalog/playbook/content?playbook_id=x", "{\"content\": \"a\\u0000b\"}" },
        { "PUT", "/api/catalog/playbook/content?playbook_id=x", "{\"content\": \"\\ud800\"}" },
        { "PUT", "/api/catalog/playbook/content", "{\"content\": \"x\"}" },
        { "PUT", "/api/catalog/playbook/content?playbook_id=a%00b", "{\"content\": \"x\"}" },
        { "PUT", "/api/catalog/playbook/content?playbook_id=" + new string('p', 300), "{\"content\": \"x\"}" },
        { "GET", "/api/catalog/playbook/content", "" },
        { "GET", "/api/catalog/playbook/content?playbook_id=a%00b", "" },
        { "GET", "/api/catalog/playbook/content?playbook_id=" + new string('9', 300), "" },
        { "POST", "/api/catalog/playbooks/validate", "{\"content\": [1]}" },
        { "POST", "/api/catalog/playbooks/validate", "[1, 2]" },
        { "POST", "/api/catalog/playbooks/validate", "{\"content\": \"x\", \"content\": \"y\"}" },
        { "POST", "/api/catalog/playbooks/validate", new string('[', 1000) + new string(']', 1000) },
        { "POST", "/api/catalog/agents/list", "{\"\\u0000\": 1}" },
        { "POST", "/api/auth/validate", "{\"session_token\": [\"x\"]}" },
        { "GET", "/api/credentials/x?include_data=maybe", "" },
    };

    [Theory]
    [MemberData(nameof(HostileInputs))]
    public async Task Hostile_input_to_the_new_routes_is_a_4xx_with_error_beside_detail(string method, string route, string body)
    {
        var response = await AsGui(new HttpMethod(method), route, rawBody: body.Length == 0 ? null : body);
        Assert.True((int)response.Status is >= 400 and < 500, $"{(int)response.Status} {response.Text}");
        Assert.NotNull(response.Json["detail"]);
        Assert.IsType<string>(response.Json["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Login_failures_spend_the_same_per_address_budget_as_bad_tokens_elsewhere()
    {
        var (_, url) = await fixture.System.StartGatewayAsync(NoEtlSystem.InternalToken, settings: new()
        {
            ["NOETL_AUTH_FAILURE_BURST"] = "3",
            ["NOETL_AUTH_FAILURES_PER_SECOND"] = "1",
        });
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        var throttled = false;
        for (var attempt = 0; attempt < 200 && !throttled; attempt++)
        {
            var response = await http.Send(HttpMethod.Post, "/api/auth/validate", new { session_token = $"guess-{attempt}" });
            throttled = response.Status == HttpStatusCode.TooManyRequests;
            Assert.True(throttled || response.Json["valid"]!.GetValue<bool>() == false, response.Text);
            if (throttled)
                Assert.NotNull(response.Raw.Headers.RetryAfter);
        }
        Assert.True(throttled, "200 failed logins from one address were never throttled");
        // A valid token is never charged, so an honest login from the same address still succeeds.
        var honest = await http.Send(HttpMethod.Post, "/api/auth/validate", new { session_token = PrincipalTokens.Operator });
        Assert.True(honest.Json["valid"]!.GetValue<bool>(), honest.Text);
    }

    [Fact]
    public async Task Operator_secret_reads_can_be_turned_off()
    {
        var name = $"gui_off_{Guid.NewGuid():N}"[..24];
        await AsGui(HttpMethod.Post, "/api/credentials", new { name, data = new { token = "never-shown-here" } });
        var (_, url) = await fixture.System.StartGatewayAsync(NoEtlSystem.InternalToken, settings: new() { ["NOETL_OPERATOR_SECRET_READ"] = "false" });
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        var refused = await http.Send(HttpMethod.Get, $"/api/credentials/{name}?include_data=true", bearer: Operator);
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.Contains("NOETL_OPERATOR_SECRET_READ=false", refused.Json["detail"]!.GetValue<string>());
        Assert.DoesNotContain("never-shown-here", refused.Text);
        Assert.Equal(HttpStatusCode.OK, (await http.Send(HttpMethod.Get, $"/api/credentials/{name}", bearer: Operator)).Status);
    }

    [Fact]
    public async Task The_gui_without_authentication_needs_NOETL_AUTH_DISABLED_which_the_gateway_warns_about()
    {
        var (gateway, url) = await fixture.System.StartGatewayAsync(NoEtlSystem.InternalToken, settings: new() { ["NOETL_AUTH_DISABLED"] = "true" });
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        // "Continue without authentication": no credentials at all.
        Assert.Equal(HttpStatusCode.OK, (await http.Send(HttpMethod.Post, "/api/catalog/list", new { })).Status);
        Assert.Equal(HttpStatusCode.OK, (await http.Send(HttpMethod.Get, "/api/executions")).Status);
        Assert.Contains("AUTHENTICATION IS DISABLED", gateway.Output);
    }

    private Task<long> VersionsAsync(string path) =>
        fixture.System.AdminCountAsync("SELECT count(*) FROM noetl.catalog WHERE path = $1", path);
}
