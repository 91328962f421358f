using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>A system that exports spans to an in-test OTLP receiver and has an operator token.</summary>
public sealed class ObservedSystemFixture : IAsyncLifetime
{
    public const string OperatorToken = "integration-operator-token";

    public OtlpReceiver Receiver { get; } = new();

    public NoEtlSystem System { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var tracing = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Receiver.Url,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200", // export batches every 200 ms instead of 5 s
        };
        System = await NoEtlSystem.StartAsync(siloSettings: tracing,
            gatewaySettings: new Dictionary<string, string>(tracing) { ["NOETL_OPERATOR_TOKEN"] = OperatorToken });
    }

    public async Task DisposeAsync()
    {
        await System.DisposeAsync();
        await Receiver.DisposeAsync();
    }
}

public sealed class ObservabilityTests(ObservedSystemFixture fixture) : IClassFixture<ObservedSystemFixture>
{
    private NoEtlSystem System => fixture.System;
    private HttpClient Http => fixture.System.Http;

    [Fact]
    public async Task Metrics_on_gateway_and_silo_count_what_a_three_step_playbook_did()
    {
        var siloMetrics = System.SiloUrls[0] + "/metrics";
        var gatewayMetrics = System.GatewayUrl + "/metrics";
        var siloBefore = await PrometheusScrape.ReadAsync(Http, siloMetrics);
        var gatewayBefore = await PrometheusScrape.ReadAsync(Http, gatewayMetrics);

        var path = $"tests/metrics_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.ThreeSteps(path));
        var executionId = await Http.Execute(path, new { greeting = "hi" });
        var status = await new SimulatedWorker(Http, "worker-metrics").RunToCompletionAsync(executionId, claim => claim["node_name"]!.GetValue<string>() switch
        {
            "start" => new JsonObject { ["message"] = "hi" },
            "double" => new JsonObject { ["value"] = 4 },
            _ => new JsonObject(),
        });
        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());

        var silo = await PrometheusScrape.ReadAsync(Http, siloMetrics);
        double Delta(string name, params (string, string)[] filters) => silo.Sum(name, filters) - siloBefore.Sum(name, filters);
        var shared = ("pool", "shared");
        Assert.Equal(3, Delta("noetl_commands_issued_total", shared));
        Assert.Equal(2, Delta("noetl_commands_issued_total", shared, ("tool_kind", "noop")));
        Assert.Equal(1, Delta("noetl_commands_issued_total", shared, ("tool_kind", "python")));
        Assert.Equal(3, Delta("noetl_commands_claimed_total", shared));
        Assert.Equal(3, Delta("noetl_commands_completed_total", shared));
        Assert.Equal(0, Delta("noetl_commands_failed_total", shared));
        Assert.Equal(3, Delta("noetl_events_appended_total", ("event_type", "command.issued")));
        Assert.Equal(3, Delta("noetl_events_appended_total", ("event_type", "call.done")));
        Assert.Equal(1, Delta("noetl_events_appended_total", ("event_type", "playbook.completed")));
        Assert.Equal(3, Delta("noetl_command_issue_to_claim_duration_seconds_count", shared));
        Assert.InRange(Delta("noetl_command_issue_to_claim_duration_seconds_sum", shared), 0, 60);
        Assert.Equal(3, Delta("noetl_command_claim_duration_seconds_count"));
        Assert.True(silo.Sum("orleans_catalog_activations", ("grain_type", "execution")) >= 1, "execution grain activations");
        Assert.True(silo.Has("db_client_connection_count", ("db_client_connection_state", "used")), "Npgsql pool in use");
        Assert.True(silo.Sum("db_client_connection_max") > 0, "Npgsql pool size");
        Assert.True(silo.Has("http_server_request_duration_seconds_count", ("http_route", "/health")), "silo HTTP requests by route");

        // Nothing publishes in this system, so the three notifications stay PENDING (the gauge is cached for 5 s).
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (silo.Sum("noetl_outbox_rows", ("status", "pending")) < 3 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
            silo = await PrometheusScrape.ReadAsync(Http, siloMetrics);
        }
        Assert.True(silo.Sum("noetl_outbox_rows", ("status", "pending")) >= 3, "outbox pending");
        Assert.True(silo.Has("noetl_outbox_rows", ("status", "in_flight")) && silo.Has("noetl_outbox_rows", ("status", "dead")), "outbox in_flight/dead");

        var gateway = await PrometheusScrape.ReadAsync(Http, gatewayMetrics);
        (string, string)[] claimed = [("http_route", "/api/commands/{eventId}/claim"), ("http_response_status_code", "200")];
        Assert.Equal(3, gateway.Sum("http_server_request_duration_seconds_count", claimed) - gatewayBefore.Sum("http_server_request_duration_seconds_count", claimed));
        Assert.True(gateway.Has("orleans_client_connected_gateways"), "gateway's Orleans client meters");
    }

    [Fact]
    public async Task One_trace_links_the_gateway_request_the_grain_call_and_its_sql()
    {
        var path = $"tests/traced_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = (await Http.Execute(path)).ToString();
        await new SimulatedWorker(Http, "worker-traced").RunToCompletionAsync(long.Parse(executionId), _ => new JsonObject());

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var spans = fixture.Receiver.Spans.ToArray();
            var byId = spans.GroupBy(s => s.SpanId).ToDictionary(g => g.Key, g => g.First());
            List<ReceivedSpan> Ancestors(ReceivedSpan span)
            {
                var ancestors = new List<ReceivedSpan>();
                for (var at = span; byId.TryGetValue(at.ParentSpanId, out var parent); at = parent)
                    ancestors.Add(parent);
                return ancestors;
            }
            // A SQL span whose ancestors are the execution grain's call (tagged execution_id) and the gateway's request.
            var linked = spans.Where(s => s.Service == "noetl-silo" && s.Scope == "Npgsql").Select(Ancestors).Any(ancestors =>
                ancestors.Any(a => a.Service == "noetl-silo" && a.Attributes.GetValueOrDefault("execution_id") == executionId)
                && ancestors.Any(a => a.Service == "noetl-gateway" && a.Kind == ReceivedSpan.ServerKind && a.Attributes.ContainsKey("http.route")));
            // Turns about one command (claim, worker events) also name the command and the step.
            var commandTagged = spans.Any(s => s.Attributes.GetValueOrDefault("execution_id") == executionId
                && s.Attributes.ContainsKey("command_id") && s.Attributes.GetValueOrDefault("step") == "start");
            if (linked && commandTagged)
            {
                // Traces start at requests only: no dashboard polling, membership queries or timers of their own.
                Assert.All(spans.Where(s => s.ParentSpanId.Length == 0), root => Assert.Equal(ReceivedSpan.ServerKind, root.Kind));
                Assert.DoesNotContain(spans, s => s.Attributes.GetValueOrDefault("url.path") is "/health" or "/metrics");
                return;
            }
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"linked={linked} commandTagged={commandTagged} for {executionId} among {spans.Length} spans:\n" +
                    string.Join('\n', spans.TakeLast(40).Select(s => $"{s.Service} {s.Scope} {s.Name} trace={s.TraceId[..8]} {string.Join(',', s.Attributes.Select(a => a.Key + "=" + a.Value))}")));
            await Task.Delay(250);
        }
    }

    [Fact]
    public async Task Dashboard_answers_the_operator_only()
    {
        using var http = new HttpClient { BaseAddress = new Uri(System.GatewayUrl) };
        async Task<HttpResponseMessage> Get(string path, AuthenticationHeaderValue? credential)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = credential;
            return await http.SendAsync(request);
        }
        var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"operator:{ObservedSystemFixture.OperatorToken}"));

        var anonymous = await Get("/dashboard/", null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Contains(anonymous.Headers.WwwAuthenticate, c => c.Scheme == "Basic");
        Assert.Equal(HttpStatusCode.Unauthorized, (await Get("/dashboard/", new("Bearer", "wrong"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Get("/dashboard/", new("Basic", Convert.ToBase64String("admin:x"u8.ToArray())))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Get("/dashboard/DashboardCounters", null)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await Get("/dashboard/", new("Bearer", ObservedSystemFixture.OperatorToken))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Get("/dashboard/", new("Basic", basic))).StatusCode);
        // The UI's data comes from the silos' collectors (AddDashboard on every silo), through the cluster.
        var counters = await Get("/dashboard/DashboardCounters", new("Basic", basic));
        Assert.Equal(HttpStatusCode.OK, counters.StatusCode);
        Assert.Contains("\"hosts\"", await counters.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);

        // The operator token opens the dashboard only: workers' bearer tokens on the API are untouched.
        Assert.Equal(HttpStatusCode.OK, (await Http.Get("/api/health")).Status);
    }

    [Fact]
    public async Task OpenApi_document_lists_the_contract_routes()
    {
        var document = await Http.Get("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, document.Status);
        var paths = document.Json["paths"]!.AsObject();
        string[] contract =
        [
            "/api/catalog/register", "/api/catalog/list", "/api/catalog/resource", "/api/execute",
            "/api/commands/{eventId}/claim", "/api/commands/{eventId}", "/api/events", "/api/events/batch",
            "/api/worker/pool/register", "/api/worker/pool/heartbeat", "/api/worker/pool/deregister", "/api/worker/pools",
            "/api/executions", "/api/executions/{id}", "/api/executions/{id}/status", "/api/executions/{id}/cancellation-check",
            "/api/executions/{id}/cancel", "/health", "/api/health", "/api/internal/outbox/claim",
            // NoETL's web GUI
            "/api/auth/validate", "/api/catalog/{path}/ui_schema", "/api/catalog/playbook/content", "/api/catalog/playbooks/validate",
            "/api/catalog/agents/list", "/api/executions/{id}/analyze/ai", "/api/catalog/playbooks/explain/ai",
            "/api/catalog/playbooks/generate/ai", "/api/playbook-tests/suites/{rest}",
        ];
        Assert.All(contract, route => Assert.True(paths.ContainsKey(route), $"{route} missing from /openapi/v1.json"));
        Assert.DoesNotContain(paths, p => p.Key.StartsWith("/dashboard", StringComparison.Ordinal));

        Assert.NotNull(paths["/api/catalog/playbook/content"]!["put"]);
        Assert.NotNull(paths["/api/playbook-tests/suites/{rest}"]!["delete"]!["responses"]!["501"]);
        Assert.Equal(["session_token"], RequiredFields(document.Json, paths["/api/auth/validate"]!["post"]!));
        Assert.Contains("error", paths["/api/catalog/register"]!["post"]!["responses"]!["4XX"]!["content"]!["application/json"]!["schema"]!["required"]!.AsArray()
            .Select(r => r!.GetValue<string>()));

        var claim = paths["/api/commands/{eventId}/claim"]!["post"]!;
        Assert.Equal("commands", claim["tags"]![0]!.GetValue<string>());
        Assert.Contains("worker_id", RequiredFields(document.Json, claim));
    }

    /// <summary>The required fields of an operation's request body; a typed route's body schema is a $ref to the document's components.</summary>
    private static string[] RequiredFields(JsonNode document, JsonNode operation)
    {
        var body = operation["requestBody"]!["content"]!["application/json"]!["schema"]!;
        if (body["$ref"] is JsonValue reference)
            body = document["components"]!["schemas"]![reference.GetValue<string>().Split('/')[^1]]!;
        return [.. body["required"]!.AsArray().Select(r => r!.GetValue<string>())];
    }
}

/// <summary>Without NOETL_OPERATOR_TOKEN the dashboard is closed to everyone: never open by default.</summary>
[Collection(SystemCollection.Name)]
public sealed class ClosedDashboardTests(SystemFixture fixture)
{
    [Fact]
    public async Task Dashboard_without_an_operator_token_configured_answers_401_to_any_credential()
    {
        foreach (var credential in new AuthenticationHeaderValue?[] { null, new("Bearer", ""), new("Bearer", "anything"), new("Basic", Convert.ToBase64String("operator:"u8.ToArray())) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/dashboard/");
            request.Headers.Authorization = credential;
            using var response = await fixture.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.NotEmpty(response.Headers.WwwAuthenticate);
        }
    }
}
