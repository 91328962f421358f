using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;
using static NoEtl.Integration.Tests.Infrastructure.Bearers;

namespace NoEtl.Integration.Tests;

/// <summary>
/// The data-access boundary tried as an attacker holding only the user pool's token (issue: seal the boundary).
/// Each test replays an attack that worked before and checks it now does no harm.
/// </summary>
[Collection(SystemCollection.Name)]
public sealed class BoundaryTests(SystemFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_user_pool_cannot_start_a_system_playbook_and_nobody_can_redirect_its_server_url()
    {
        using var listener = new LocalHttpService("/", (_, _) => (200, "{}"));
        foreach (var path in new[] { "system/scheduled_cleanup", "system/projector" })
        {
            var stolen = await Http.Send(HttpMethod.Post, "/api/execute",
                new { path, workload = new { server_url = listener.Url, command_retention_days = 0 } }, bearer: SharedPool);
            Assert.Equal(HttpStatusCode.Forbidden, stolen.Status);
            Assert.Equal("system_playbook", stolen.Json["detail"]!["code"]!.GetValue<string>());

            var asOperator = await Http.Send(HttpMethod.Post, "/api/execute", new { path, workload = new { server_url = listener.Url } }, bearer: Operator);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, asOperator.Status);
            Assert.Contains("server_url", asOperator.Text);
        }
        Assert.Equal(0, listener.Requests);
        // Refused starts leave nothing behind.
        Assert.Equal(0L, await ScalarAsync(
            "SELECT count(*) FROM noetl.event WHERE event_type = 'playbook.initialized' AND context->'workload'->>'server_url' = $1", listener.Url));

        // Operators may still run them with other retentions; the server URL stays the server's own.
        var run = await Http.Send(HttpMethod.Post, "/api/execute",
            new { path = "system/scheduled_cleanup", workload = new { command_retention_days = 30 } }, bearer: Operator);
        Assert.Equal(HttpStatusCode.OK, run.Status);
    }

    [Theory]
    [InlineData("system/planted")]
    [InlineData("/system/planted")]
    [InlineData("System/planted")]
    public async Task System_paths_are_registered_by_the_server_only(string path)
    {
        var yaml = Playbooks.OneStep(path);
        var asOperator = await Http.Send(HttpMethod.Post, "/api/catalog/register", new { content = yaml }, bearer: Operator);
        Assert.Equal(HttpStatusCode.Forbidden, asOperator.Status);
        Assert.Equal("system_playbook", asOperator.Json["detail"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Forbidden, (await Http.Send(HttpMethod.Post, "/api/catalog/register", new { content = yaml }, bearer: SystemPool)).Status);
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM noetl.catalog WHERE lower(path) LIKE '%system/planted'"));
    }

    [Fact]
    public async Task Events_are_bound_to_the_pool_and_the_claim_holder_and_its_lease_token()
    {
        // A command routed to the system pool, claimed by a system worker.
        var executionId = await Http.Execute("system/scheduled_cleanup");
        var eventId = Assert.Single(await new SimulatedWorker(Http, "probe").PendingCommandEventsAsync(executionId));
        var claim = await Http.Send(HttpMethod.Post, $"/api/commands/{eventId}/claim", new { worker_id = "system-w" }, bearer: SystemPool);
        Assert.Equal(HttpStatusCode.OK, claim.Status);
        var commandId = claim.Json["meta"]!["command_id"]!.GetValue<long>();
        var leaseToken = claim.Json["lease_token"]!.GetValue<string>();
        Assert.Equal(leaseToken, claim.Json["meta"]!["lease_token"]!.GetValue<string>());
        var forged = new JsonObject { ["command_id"] = commandId, ["result"] = new JsonObject { ["status"] = "COMPLETED", ["context"] = new JsonObject { ["forged"] = true } } };

        // The user pool, spoofing the holder's worker id: refused by pool.
        var wrongPool = await PostEvent(executionId, "call.done", forged, "system-w", SharedPool);
        Assert.Equal(HttpStatusCode.Forbidden, wrongPool.Status);
        Assert.Equal("wrong_pool", wrongPool.Json["detail"]!["code"]!.GetValue<string>());
        // Nor without a command id, nor in a batch.
        Assert.Equal(HttpStatusCode.Forbidden, (await PostEvent(executionId, "worker.note", [], "x", SharedPool)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Http.Send(HttpMethod.Post, "/api/events/batch", new JsonObject
        {
            ["execution_id"] = executionId,
            ["events"] = new JsonArray(new JsonObject { ["step"] = "start", ["name"] = "call.done", ["payload"] = forged.DeepClone(), ["worker_id"] = "system-w" }),
        }, bearer: SharedPool)).Status);

        // A worker of the right pool that does not hold the claim.
        var notHolder = await PostEvent(executionId, "call.done", forged, "system-other", SystemPool);
        Assert.Equal(HttpStatusCode.Conflict, notHolder.Status);
        Assert.Equal("not_claim_holder", notHolder.Json["detail"]!["code"]!.GetValue<string>());
        // The holder's id with a guessed lease token.
        var guessed = await PostEvent(executionId, "call.done", forged, "system-w", SystemPool, new JsonObject { ["lease_token"] = "lt1.guess" });
        Assert.Equal(HttpStatusCode.Conflict, guessed.Status);
        Assert.Equal("lease_token_mismatch", guessed.Json["detail"]!["code"]!.GetValue<string>());
        // Engine-owned types without a command.
        var unbound = await PostEvent(executionId, "playbook.completed", [], "system-w", SystemPool);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, unbound.Status);
        // A command id of another execution.
        var foreign = await PostEvent(executionId, "call.done", new JsonObject { ["command_id"] = 42 }, "system-w", SystemPool);
        Assert.Equal(HttpStatusCode.NotFound, foreign.Status);

        // None of that changed anything.
        var status = await Http.Status(executionId);
        Assert.Equal("RUNNING", status["status"]!.GetValue<string>());
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM noetl.event WHERE execution_id = $1 AND event_type IN ('call.done', 'playbook.completed', 'worker.note')", executionId));

        // The holder, echoing its token, is heard; the token itself is never stored.
        var honest = await PostEvent(executionId, "command.started", new JsonObject { ["command_id"] = commandId }, "system-w", SystemPool,
            new JsonObject { ["lease_token"] = leaseToken, ["lease_epoch"] = claim.Json["lease_epoch"]!.DeepClone() });
        Assert.Equal(HttpStatusCode.OK, honest.Status);
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM noetl.event WHERE execution_id = $1 AND strpos(event::text, $2) > 0", executionId, leaseToken));
    }

    [Fact]
    public async Task An_honest_worker_follows_the_contract_with_or_without_echoing_the_lease_token()
    {
        var path = $"tests/conformance_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.ThreeSteps(path));
        foreach (var echo in new[] { true, false })
        {
            var worker = $"conformance-{echo}";
            Assert.Equal(HttpStatusCode.OK, (await Http.Post("/api/worker/pool/register", new { name = worker, runtime = "python", status = "ready" })).Status);
            var executionId = await Http.Execute(path);
            var simulated = new SimulatedWorker(Http, worker) { EchoLeaseToken = echo };
            var status = await simulated.RunToCompletionAsync(executionId, _ => new JsonObject { ["value"] = 4 });
            Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
            Assert.All(simulated.Claims, c => Assert.StartsWith("lt1.", c["lease_token"]!.GetValue<string>()));
            Assert.Equal(HttpStatusCode.OK, (await Http.Send(HttpMethod.Delete, $"/api/worker/pool/deregister", new { name = worker })).Status);
        }
    }

    [Fact]
    public async Task Secrets_read_for_an_execution_never_reach_a_row_through_meta_keys_or_identifiers()
    {
        var secret = $"leak-{Guid.NewGuid():N}";
        var alias = $"leaky-{Guid.NewGuid():N}"[..20];
        Assert.Equal(HttpStatusCode.OK, (await Http.Post("/api/credentials", new { name = alias, type = "api", data = new { token = secret } })).Status);
        var path = $"tests/leak_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        // The worker reads the credential for this execution, as a tool with `auth:` does.
        Assert.Equal(HttpStatusCode.OK, (await Http.Get($"/api/credentials/{alias}?include_data=true&execution_id={executionId}")).Status);
        var eventId = Assert.Single(await new SimulatedWorker(Http, "w").PendingCommandEventsAsync(executionId));

        var badClaim = await Http.Claim(eventId, $"worker-{secret}");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, badClaim.Status);
        var claim = await Http.Claim(eventId, "leaky-worker");
        var commandId = claim.Json["meta"]!["command_id"]!.GetValue<long>();

        foreach (var (step, name, worker) in new[] { ("start", $"note.{secret}", "leaky-worker"), ($"s-{secret}", "note", "leaky-worker"), ("start", "note", secret) })
            Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Http.Post("/api/events", new JsonObject
            {
                ["execution_id"] = executionId,
                ["step"] = step,
                ["name"] = name,
                ["worker_id"] = worker,
                ["payload"] = new JsonObject { ["command_id"] = commandId },
            })).Status);
        var stored = await Http.Post("/api/events", new JsonObject
        {
            ["execution_id"] = executionId,
            ["step"] = "start",
            ["name"] = "command.started",
            ["worker_id"] = "leaky-worker",
            ["payload"] = new JsonObject { ["command_id"] = commandId, ["echo"] = new JsonObject { [secret] = "as a key" } },
            ["meta"] = new JsonObject { ["note"] = $"value {secret}", ["nested"] = new JsonObject { [$"k-{secret}"] = 1 } },
        });
        Assert.Equal(HttpStatusCode.OK, stored.Status);

        Assert.Equal(0L, await ScalarAsync(
            "SELECT (SELECT count(*) FROM noetl.event e WHERE e.execution_id = $1 AND strpos(e::text, $2) > 0) " +
            "+ (SELECT count(*) FROM noetl.command c WHERE c.execution_id = $1 AND strpos(c::text, $2) > 0)", executionId, secret));
        var detail = await Http.Get($"/api/executions/{executionId}?page_size=100");
        Assert.DoesNotContain(secret, detail.Text);
        Assert.Contains("[REDACTED]", detail.Text);
    }

    [Fact]
    public async Task A_user_pool_cannot_reach_into_the_keychain_or_the_executions_of_the_system_pool()
    {
        var executionId = await Http.Execute("system/scheduled_cleanup");
        var catalogId = (await Http.Post("/api/catalog/resource", new { path = "system/scheduled_cleanup" })).Json["catalog_id"]!.GetValue<string>();
        var alias = $"cross-{Guid.NewGuid():N}"[..20];
        Assert.Equal(HttpStatusCode.OK, (await Http.Post("/api/credentials", new { name = alias, type = "api", data = new { token = "cross-pool-secret" } })).Status);

        var cached = await Http.Send(HttpMethod.Get, $"/api/credentials/{alias}?include_data=true&execution_id={executionId}", bearer: SharedPool);
        Assert.Equal(HttpStatusCode.Forbidden, cached.Status);
        Assert.DoesNotContain("cross-pool-secret", cached.Text);
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM noetl.keychain WHERE execution_id = $1", executionId));
        foreach (var (method, route) in new[]
        {
            (HttpMethod.Get, $"/api/keychain/{catalogId}/k?scope_type=global"),
            (HttpMethod.Get, $"/api/keychain/catalog/{catalogId}"),
            (HttpMethod.Delete, $"/api/keychain/{catalogId}/k?scope_type=global"),
        })
            Assert.Equal(HttpStatusCode.Forbidden, (await Http.Send(method, route, bearer: SharedPool)).Status);
        var planted = await Http.Send(HttpMethod.Post, $"/api/keychain/{catalogId}/k",
            new { token_data = new { token = "x" }, credential_type = "api", scope_type = "global" }, bearer: SharedPool);
        Assert.Equal(HttpStatusCode.Forbidden, planted.Status);
        // The system pool itself may.
        Assert.Equal(HttpStatusCode.OK, (await Http.Send(HttpMethod.Get, $"/api/keychain/catalog/{catalogId}", bearer: SystemPool)).Status);
    }

    [Fact]
    public async Task A_pool_manages_only_its_own_workers_in_the_registry()
    {
        var name = $"system-w-{Guid.NewGuid():N}"[..20];
        Assert.Equal(HttpStatusCode.OK, (await Http.Send(HttpMethod.Post, "/api/worker/pool/register", new { name, runtime = "dotnet" }, bearer: SystemPool)).Status);

        // A user pool cannot keep the system worker looking alive, take its name over, or take it offline.
        foreach (var (method, route, body) in new (HttpMethod, string, object)[]
        {
            (HttpMethod.Post, "/api/worker/pool/heartbeat", new { name }),
            (HttpMethod.Post, "/api/worker/pool/register", new { name, runtime = "python", meta = new { principal_pool = "system" } }),
            (HttpMethod.Post, "/api/worker/pool/deregister", new { name }),
        })
        {
            var refused = await Http.Send(method, route, body, bearer: SharedPool);
            Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
            Assert.Equal("wrong_pool", refused.Json["detail"]!["code"]!.GetValue<string>());
        }
        var entry = (await Http.Send(HttpMethod.Get, "/api/worker/pools", bearer: Operator)).Json["items"]!.AsArray()
            .Single(i => i!["name"]!.GetValue<string>() == name)!;
        Assert.Equal("dotnet", entry["runtime"]!["type"]!.GetValue<string>());
        Assert.Equal("ready", entry["status"]!.GetValue<string>());

        Assert.Equal(HttpStatusCode.OK, (await Http.Send(HttpMethod.Post, "/api/worker/pool/heartbeat", new { name }, bearer: SystemPool)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Http.Send(HttpMethod.Post, "/api/worker/pool/deregister", new { name }, bearer: SystemPool)).Status);
    }

    private Task<ApiResponse> PostEvent(long executionId, string name, JsonObject payload, string workerId, string bearer, JsonObject? meta = null) =>
        Http.Send(HttpMethod.Post, "/api/events", new JsonObject
        {
            ["execution_id"] = executionId,
            ["step"] = "start",
            ["name"] = name,
            ["payload"] = payload.DeepClone(),
            ["meta"] = meta,
            ["worker_id"] = workerId,
        }, bearer: bearer);

    private Task<long> ScalarAsync(string sql, params object[] parameters) => fixture.System.AdminCountAsync(sql, parameters);
}
