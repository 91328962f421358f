using System.Net;
using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;
using static NoEtl.Integration.Tests.Infrastructure.Bearers;

namespace NoEtl.Integration.Tests;

/// <summary>Authentication and authorization of the public API, route group by route group, and the audit trail.</summary>
[Collection(SystemCollection.Name)]
public sealed class AuthTests(SystemFixture fixture)
{
    private HttpClient Http => fixture.Http;

    public static TheoryData<string, string, string, string> Routes => new()
    {
        // method, route, body, the principal that may call it (the other one gets 403)
        { "POST", "/api/catalog/register", """{"content": "x"}""", "operator" },
        { "PUT", "/api/catalog/playbook/content?playbook_id=tests/auth_matrix", """{"content": "x"}""", "operator" },
        { "POST", "/api/catalog/playbooks/validate", """{"content": "x"}""", "operator" },
        { "POST", "/api/executions/1/cancel", "{}", "operator" },
        { "GET", "/api/worker/pools", "", "operator" },
        { "GET", "/api/audit", "", "operator" },
        { "POST", "/api/credentials", """{"name": "n", "data": {}}""", "operator" },
        { "DELETE", "/api/credentials/nothing-here", "", "operator" },
        { "POST", "/api/commands/1/claim", """{"worker_id": "w"}""", "worker" },
        { "POST", "/api/events", """{"execution_id": 1, "step": "s", "name": "x"}""", "worker" },
        { "POST", "/api/events/batch", """{"execution_id": 1, "events": [{"step": "s", "name": "x"}]}""", "worker" },
        { "POST", "/api/worker/pool/register", """{"name": "auth-matrix-worker"}""", "worker" },
        { "POST", "/api/worker/pool/heartbeat", """{"name": "auth-matrix-worker"}""", "worker" },
        { "GET", "/api/keychain/1/k?scope_type=global", "", "worker" },
    };

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task No_token_is_401_the_wrong_principal_403_and_the_right_one_passes(string method, string route, string body, string allowed)
    {
        var content = body.Length == 0 ? null : body;
        foreach (var bearer in new[] { null, "Bearer not-a-known-token", "Basic " + PrincipalTokens.Operator })
        {
            var anonymous = await Send(method, route, content, bearer ?? "");
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.Status);
            Assert.Contains("Bearer", anonymous.Raw.Headers.WwwAuthenticate.ToString());
        }

        var (right, wrong) = allowed == "operator" ? (Operator, SharedPool) : (SharedPool, Operator);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(method, route, content, wrong)).Status);
        var passed = await Send(method, route, content, right);
        Assert.NotEqual(HttpStatusCode.Unauthorized, passed.Status);
        Assert.NotEqual(HttpStatusCode.Forbidden, passed.Status);
        Assert.True((int)passed.Status < 500, passed.Text);
    }

    [Theory]
    [InlineData("GET", "/api/executions")]
    [InlineData("POST", "/api/catalog/list")]
    [InlineData("GET", "/api/credentials")]
    public async Task Shared_routes_admit_both_principals_and_nobody_else(string method, string route)
    {
        var body = method == "POST" ? "{}" : null;
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(method, route, body, "")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Send(method, route, body, Operator)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Send(method, route, body, SharedPool)).Status);
    }

    [Fact]
    public async Task Health_stays_open_for_probes_and_the_internal_api_keeps_its_own_gate()
    {
        Assert.Equal(HttpStatusCode.OK, (await Send("GET", "/api/health", null, "")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send("GET", "/api/internal/outbox/pending-count", null, "")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send("GET", "/api/internal/outbox/pending-count", null, SharedPool)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send("GET", "/api/internal/outbox/pending-count", null, Operator)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Send("GET", "/api/internal/outbox/pending-count", null, SystemPool)).Status);
    }

    [Fact]
    public async Task A_pool_claims_only_commands_routed_to_it()
    {
        // No system worker runs here: the server's own cleanup playbook leaves a command routed to the system pool.
        var executionId = await Http.Execute("system/scheduled_cleanup");
        var eventId = Assert.Single(await new SimulatedWorker(Http, "probe").PendingCommandEventsAsync(executionId));

        var wrongPool = await Http.Send(HttpMethod.Post, $"/api/commands/{eventId}/claim", new { worker_id = "shared-w" }, bearer: SharedPool);
        Assert.Equal(HttpStatusCode.Forbidden, wrongPool.Status);
        Assert.Equal("wrong_pool", wrongPool.Json["detail"]!["code"]!.GetValue<string>());
        var rightPool = await Http.Send(HttpMethod.Post, $"/api/commands/{eventId}/claim", new { worker_id = "system-w" }, bearer: SystemPool);
        Assert.Equal(HttpStatusCode.OK, rightPool.Status);
    }

    [Fact]
    public async Task Secret_data_goes_to_operators_and_to_workers_for_an_execution_of_their_pool()
    {
        var name = $"secret-{Guid.NewGuid():N}";
        Assert.Equal(HttpStatusCode.OK, (await Http.Send(HttpMethod.Post, "/api/credentials",
            new { name, type = "api", data = new { token = "very-secret-value-123" } }, bearer: Operator)).Status);
        var asOperator = await Http.Send(HttpMethod.Get, $"/api/credentials/{name}?include_data=true", bearer: Operator);
        Assert.Equal("very-secret-value-123", asOperator.Json["data"]!["token"]!.GetValue<string>());
        var metadata = await Http.Send(HttpMethod.Get, $"/api/credentials/{name}", bearer: Operator);
        Assert.Equal(HttpStatusCode.OK, metadata.Status);
        Assert.DoesNotContain("very-secret-value-123", metadata.Text);

        // A worker token alone does not open the store: only a read for a real execution of its pool does.
        var path = $"tests/secret_reader_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        foreach (var query in new[] { "include_data=true", "include_data=true&execution_id=123456789", "include_data=true&catalog_id=1" })
        {
            var refused = await Http.Send(HttpMethod.Get, $"/api/credentials/{name}?{query}", bearer: SharedPool);
            Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
            Assert.DoesNotContain("very-secret-value-123", refused.Text);
        }
        var asWorker = await Http.Send(HttpMethod.Get, $"/api/credentials/{name}?include_data=true&execution_id={executionId}", bearer: SharedPool);
        Assert.Equal("very-secret-value-123", asWorker.Json["data"]!["token"]!.GetValue<string>());
    }

    [Fact]
    public async Task Audited_actions_record_the_principal_and_failed_attempts_too()
    {
        var marker = Guid.NewGuid().ToString("N");
        var path = $"tests/audited_{marker}";
        await Http.Send(HttpMethod.Post, "/api/catalog/register", new { content = Playbooks.OneStep(path) }, bearer: Operator);
        var executionId = await Http.Execute(path);
        await Http.Send(HttpMethod.Post, $"/api/executions/{executionId}/cancel", new { reason = "audit test" }, bearer: Operator);
        var credential = $"audited-{marker}";
        await Http.Send(HttpMethod.Post, "/api/credentials", new { name = credential, data = new { password = "p4ssw0rd-long-enough" } }, bearer: Operator);
        await Http.Send(HttpMethod.Get, $"/api/credentials/{credential}?include_data=true&execution_id={executionId}", bearer: SharedPool);
        await Http.Send(HttpMethod.Get, $"/api/credentials/{credential}?include_data=true", bearer: SharedPool); // refused: no execution
        await Http.Send(HttpMethod.Get, $"/api/credentials/{credential}?include_data=true", bearer: Operator);
        await Http.Send(HttpMethod.Get, "/api/internal/outbox/pending-count", bearer: SystemPool);
        await Http.Send(HttpMethod.Get, "/api/internal/outbox/pending-count", bearer: "Bearer wrong");
        await Http.Send(HttpMethod.Post, "/api/catalog/register", new { content = "x" }, bearer: "Bearer stolen-" + marker);

        // Records of refusals and reads ride a later group commit: wait for the last one written here.
        var rows = new List<(string Principal, string Action, string Outcome, string? Resource)>();
        await Eventually.WaitForAsync(async () => (rows = await AuditRowsAsync()).Contains(("shared-pool", "credential.read", "forbidden", credential))
            && rows.Any(r => r is ("system-pool", "internal.outbox.pending-count", "allowed", _)), "the audit rows of this test");
        Assert.Contains(("operator", "catalog.register", "ok", path), rows);
        Assert.Contains(("operator", "execution.cancel", "ok", path), rows);
        Assert.Contains(("operator", "credential.write", "ok", credential), rows);
        Assert.Contains(("shared-pool", "credential.read", "ok", credential), rows);
        Assert.Contains(("operator", "credential.read", "ok", credential), rows);
        Assert.Contains(("shared-pool", "credential.read", "forbidden", credential), rows);
        Assert.Contains(rows, r => r is ("system-pool", "internal.outbox.pending-count", "allowed", _));
        // Refusals are aggregated per window (NOETL_AUDIT_DENIED_WINDOW_SECONDS, 1 s in test systems).
        await Eventually.WaitForAsync(async () => await DeniedRowsAsync() is var denied
            && denied.Any(r => r is ("anonymous", "GET /api/internal/outbox/pending-count", "forbidden", >= 1))
            && denied.Any(r => r is ("anonymous", "POST /api/catalog/register", "unauthenticated", >= 1)), "the aggregated auth.denied rows");

        var api = await Http.Send(HttpMethod.Get, "/api/audit?action=catalog.register&principal=operator&limit=500", bearer: Operator);
        Assert.Contains(api.Json["items"]!.AsArray(), i => i!["resource"]?.GetValue<string>() == path);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Http.Send(HttpMethod.Get, "/api/audit?limit=0", bearer: Operator)).Status);
    }

    private async Task<List<(string Principal, string Route, string Outcome, long Count)>> DeniedRowsAsync()
    {
        await using var connection = new NpgsqlConnection(fixture.System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT principal, route, outcome, (detail->>'count')::bigint FROM noetl.audit WHERE action = 'auth.denied'", connection);
        var rows = new List<(string, string, string, long)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3)));
        return rows;
    }

    private Task<ApiResponse> Send(string method, string route, string? body, string authorization) =>
        Http.Send(new HttpMethod(method), route, rawBody: body, bearer: authorization);

    private async Task<List<(string Principal, string Action, string Outcome, string? Resource)>> AuditRowsAsync()
    {
        await using var connection = new NpgsqlConnection(fixture.System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT principal, action, outcome, resource FROM noetl.audit", connection);
        var rows = new List<(string, string, string, string?)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        return rows;
    }
}
