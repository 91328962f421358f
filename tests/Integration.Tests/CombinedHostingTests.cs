using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;
using static NoEtl.Integration.Tests.Infrastructure.Bearers;

namespace NoEtl.Integration.Tests;

/// <summary>
/// <c>NOETL_HOSTING=combined</c>: one silo process serves the API on its own HTTP port, with no gateway process in the
/// system — the same routes, the same authentication and the same boundaries as through the gateway.
/// </summary>
public sealed class CombinedHostingTests(CombinedHostingTests.CombinedSystem fixture) : IClassFixture<CombinedHostingTests.CombinedSystem>
{
    /// <summary>One combined system for every test of the class.</summary>
    public sealed class CombinedSystem : IAsyncLifetime
    {
        public NoEtlSystem System { get; private set; } = null!;

        public async Task InitializeAsync() => System = await NoEtlSystem.StartAsync(combined: true);

        public async Task DisposeAsync() => await System.DisposeAsync();
    }

    private HttpClient Http => fixture.System.Http;

    [Fact]
    public async Task A_playbook_runs_end_to_end_over_the_silos_own_port()
    {
        Assert.Empty(fixture.System.Gateways);
        var health = await Http.Get("/api/health");
        Assert.Equal(HttpStatusCode.OK, health.Status);
        Assert.Equal("connected", health.Json["database"]!.GetValue<string>());

        var path = $"tests/combined_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.ThreeSteps(path));
        var executionId = await Http.Execute(path, new { greeting = "hej" });
        var worker = new SimulatedWorker(Http, "worker-combined");
        var status = await worker.RunToCompletionAsync(executionId, claim => claim["node_name"]!.GetValue<string>() switch
        {
            "start" => new JsonObject { ["message"] = claim["context"]!["tool_config"]!["result"]!["message"]!.DeepClone() },
            "double" => new JsonObject { ["value"] = claim["context"]!["input"]!["count"]!.GetValue<int>() * 2 },
            _ => new JsonObject { ["ok"] = true },
        });

        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
        var byStep = worker.Claims.ToDictionary(c => c["node_name"]!.GetValue<string>());
        Assert.Equal("hej", byStep["double"]["context"]!["input"]!["previous"]!.GetValue<string>());
        Assert.Equal(4, byStep["finish"]["context"]!["input"]!["doubled"]!.GetValue<int>());
        var types = (await Http.Events(executionId)).Select(e => e!["event_type"]!.GetValue<string>()).ToList();
        Assert.Equal(3, types.Count(t => t == "command.claimed"));
        Assert.Contains("playbook.completed", types);
    }

    [Theory]
    [InlineData("POST", "/api/catalog/register", """{"content": "x"}""")]
    [InlineData("POST", "/api/executions/1/cancel", "{}")]
    [InlineData("GET", "/api/audit", "")]
    [InlineData("GET", "/api/worker/pools", "")]
    [InlineData("POST", "/api/credentials", """{"name": "n", "data": {}}""")]
    public async Task A_worker_token_is_refused_on_operator_routes(string method, string route, string body)
    {
        var refused = await Http.Send(new HttpMethod(method), route, rawBody: body.Length == 0 ? null : body, bearer: SharedPool);
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        var anonymous = await Http.Send(new HttpMethod(method), route, rawBody: body.Length == 0 ? null : body, bearer: "");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.Status);
    }

    [Theory]
    [InlineData("POST", "/api/internal/outbox/claim", """{"limit": 1}""")]
    [InlineData("GET", "/api/internal/outbox/pending-count", "")]
    [InlineData("POST", "/api/internal/cleanup/purge", "{}")]
    public async Task The_internal_api_admits_the_internal_token_only(string method, string route, string body)
    {
        var content = body.Length == 0 ? null : body;
        foreach (var bearer in new[] { SharedPool, Operator, "" })
            Assert.Equal(HttpStatusCode.Forbidden, (await Http.Send(new HttpMethod(method), route, rawBody: content, bearer: bearer)).Status);
        var admitted = await Http.Send(new HttpMethod(method), route, rawBody: content, bearer: SystemPool);
        Assert.Equal(HttpStatusCode.OK, admitted.Status);
    }

    [Fact]
    public async Task Metrics_and_the_dashboard_stay_closed_to_a_worker()
    {
        // Served on the API port in combined hosting, so behind the operator credential as on a gateway.
        foreach (var route in new[] { "/metrics", "/dashboard/" })
        {
            var refused = await Http.Send(HttpMethod.Get, route, bearer: SharedPool);
            Assert.Contains(refused.Status, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden });
        }
    }
}
