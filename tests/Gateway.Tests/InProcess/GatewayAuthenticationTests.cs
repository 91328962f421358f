using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using NoEtl.ApiGateway.Auth;
using Npgsql;
using static NoEtl.Gateway.Tests.InProcess.GatewayCalls;

namespace NoEtl.Gateway.Tests.InProcess;

/// <summary>
/// The authentication settings and side effects of the gateway, in process: the internal gate's 503, the
/// failed-authentication budget, development mode, the aggregated denials and the caller that reaches the grains.
/// </summary>
[Collection(InProcessGatewayCollection.Name)]
public sealed class GatewayAuthenticationTests(InProcessGateway gateway)
{
    [Fact]
    public async Task The_internal_api_answers_503_while_no_internal_token_is_configured()
    {
        await using var unconfigured = gateway.WithSettings(new Dictionary<string, string> { ["NOETL_INTERNAL_API_TOKEN"] = "" });
        var answer = await unconfigured.CreateClient().SendAsync("GET", "/api/internal/outbox/pending-count", authorization: Bearer(InProcessGateway.Internal));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.Status);
        Assert.Contains("NOETL_INTERNAL_API_TOKEN", answer.Json!["detail"]!.GetValue<string>());
        Assert.Equal(answer.Json["detail"]!.GetValue<string>(), answer.Json["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Failed_authentication_spends_the_address_budget_and_valid_tokens_are_never_charged()
    {
        await using var strict = gateway.WithSettings(new Dictionary<string, string>
        {
            ["NOETL_AUTH_FAILURE_BURST"] = "2",
            ["NOETL_AUTH_FAILURES_PER_SECOND"] = "1",
        });
        var http = strict.CreateClient();

        var throttled = await FirstThrottledAsync(http, "/api/audit", HttpStatusCode.Unauthorized);
        Assert.Equal("1", throttled.Headers.RetryAfter?.ToString());
        Assert.Contains("Too many requests", throttled.Json!["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync("GET", "/api/audit", authorization: Bearer(InProcessGateway.Operator))).Status);

        // The internal gate's refusals are charged to the same budget.
        var gate = await FirstThrottledAsync(http, "/api/internal/outbox/pending-count", HttpStatusCode.Forbidden);
        Assert.Equal("1", gate.Headers.RetryAfter?.ToString());
        Assert.Equal(HttpStatusCode.OK,
            (await http.SendAsync("GET", "/api/internal/outbox/pending-count", authorization: Bearer(InProcessGateway.Internal))).Status);
    }

    [Fact]
    public async Task With_authentication_disabled_every_public_caller_passes_and_the_internal_gate_stays()
    {
        await using var development = gateway.WithSettings(new Dictionary<string, string> { ["NOETL_AUTH_DISABLED"] = "true" });
        var http = development.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync("GET", "/api/audit")).Status);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync("GET", "/api/worker/pools")).Status);
        var register = await http.SendAsync("POST", "/api/catalog/register", """{"content": "not a playbook"}""");
        Assert.NotEqual(HttpStatusCode.Unauthorized, register.Status);
        Assert.NotEqual(HttpStatusCode.Forbidden, register.Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync("GET", "/api/internal/outbox/pending-count")).Status);
    }

    [Fact]
    public async Task Refusals_are_counted_per_principal_route_and_outcome_and_admitted_callers_reach_the_audit_by_name()
    {
        var http = gateway.Client();
        var credential = $"fast-audit-{Guid.NewGuid():N}";
        // Routes no other test refuses, so the rows below are this test's.
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync("GET", "/api/executions", authorization: Bearer("stolen"))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync("DELETE", $"/api/credentials/{credential}", authorization: Bearer(InProcessGateway.PoolB))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync("GET", "/api/internal/outbox/dead", authorization: Bearer("wrong"))).Status);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync("GET", "/api/internal/outbox/dead", authorization: Bearer(InProcessGateway.Internal))).Status);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync("POST", "/api/credentials",
            JsonSerializer.Serialize(new { name = credential, data = new { password = "fast-audit-password" } }), Bearer(InProcessGateway.Operator))).Status);

        var rows = new List<(string Principal, string? Role, string Action, string? Route, string? Resource, string Outcome, long Count)>();
        await WaitForAsync(async () =>
        {
            rows = await AuditRowsAsync();
            return rows.Any(r => r is ("anonymous", _, "auth.denied", "GET /api/executions/", _, "unauthenticated", >= 1))
                && rows.Any(r => r is ("pool-b", "worker", "auth.denied", "DELETE /api/credentials/{identifier}", _, "forbidden", >= 1))
                && rows.Any(r => r is ("anonymous", _, "auth.denied", "GET /api/internal/outbox/dead", _, "forbidden", >= 1))
                && rows.Any(r => r is ("system-pool", "worker", "internal.outbox.dead", _, _, "allowed", _))
                && rows.Any(r => r.Principal == "operator" && r.Action == "credential.write" && r.Resource == credential);
        }, "the audit rows of this test", () => string.Join("\n", rows));
    }

    [Fact]
    public void Every_api_route_names_its_policy_or_is_open_on_purpose_and_internal_routes_have_only_the_gate()
    {
        var endpoints = gateway.Gateway.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api", StringComparison.Ordinal) == true)
            .ToList();
        var policies = endpoints.ToDictionary(e => e.DisplayName ?? e.RoutePattern.RawText!,
            e => e.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).Distinct().Order().ToList());

        Assert.Empty(endpoints.Where(e => e.Metadata.GetMetadata<IAllowAnonymous>() is null && !e.Metadata.GetOrderedMetadata<IAuthorizeData>().Any())
            .Select(e => e.DisplayName));
        var open = endpoints.Where(e => e.Metadata.GetMetadata<IAllowAnonymous>() is not null).Select(e => e.RoutePattern.RawText).Order();
        Assert.Equal(["/api/auth/session/validate", "/api/auth/validate", "/api/health"], open);
        foreach (var endpoint in endpoints.Where(e => e.RoutePattern.RawText!.StartsWith("/api/internal/", StringComparison.Ordinal)))
            Assert.Equal([ApiPolicies.Internal], policies[endpoint.DisplayName ?? endpoint.RoutePattern.RawText!]);
    }

    private static async Task<GatewayAnswer> FirstThrottledAsync(HttpClient http, string path, HttpStatusCode refusal)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var answer = await http.SendAsync("GET", path, authorization: Bearer($"guess-{attempt}"));
            if (answer.Status == HttpStatusCode.TooManyRequests)
                return answer;
            Assert.Equal(refusal, answer.Status);
        }
        throw new Xunit.Sdk.XunitException($"{path}: no 429 after 100 refused attempts with a budget of 2");
    }

    private async Task<List<(string, string?, string, string?, string?, string, long)>> AuditRowsAsync()
    {
        await using var connection = new NpgsqlConnection(gateway.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT principal, role, action, route, resource, outcome, COALESCE((detail->>'count')::bigint, 1) FROM noetl.audit", connection);
        var rows = new List<(string, string?, string, string?, string?, string, long)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            rows.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetString(5), reader.GetInt64(6)));
        return rows;
    }
}
