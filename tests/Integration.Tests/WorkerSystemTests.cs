using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>Real processes end to end: silo, gateway, a system-pool and a user-pool worker, NATS, PostgreSQL.</summary>
[Collection(WorkerSystemCollection.Name)]
public sealed class WorkerSystemTests(WorkerSystemFixture fixture)
{
    private HttpClient Http => fixture.Http;
    private NoEtlSystem System => fixture.System;

    [Theory]
    [InlineData("hello_world")]
    [InlineData("loop")]
    [InlineData("sub_playbook")]
    public async Task Example_runs_to_completed(string example)
    {
        await Http.Register(Executions.Example("sub_playbook_child"));
        await Http.Register(Executions.Example(example));
        var executionId = await Http.Execute($"examples/{example}");
        var status = await Http.WaitTerminalAsync(executionId);
        Assert.True("COMPLETED" == status["status"]!.GetValue<string>(), $"{status.ToJsonString()}\n{System.Logs()}");

        var events = await Http.Events(executionId);
        var results = events.Where(e => e!["event_type"]!.GetValue<string>() == "call.done").ToList();
        switch (example)
        {
            case "hello_world":
                Assert.Equal("hello world hello world hello world".ToUpperInvariant(),
                    results.Last()!["result"]!["context"]!["message"]!.GetValue<string>());
                break;
            case "loop":
                // One command per item, the summary sees the per-item results in order.
                Assert.Equal(5, events.Count(e => e!["event_type"]!.GetValue<string>() == "command.issued" && e["node_name"]!.GetValue<string>() == "square"));
                var total = results.Last()!["result"]!["context"]!;
                Assert.Equal(55, total["sum"]!.GetValue<int>());
                Assert.Equal(5, total["count"]!.GetValue<int>());
                break;
            case "sub_playbook":
                var children = await ChildExecutionsAsync(executionId);
                var child = Assert.Single(children);
                Assert.Equal("COMPLETED", (await Http.Status(child))["status"]!.GetValue<string>());
                Assert.Contains("NOETL!", results.First()!["result"]!.ToJsonString());
                break;
        }
    }

    [Fact]
    public async Task Postgres_example_reaches_a_tenant_database_through_a_credential_alias()
    {
        var credential = await Http.Post("/api/credentials", new
        {
            name = "demo_db",
            type = "postgres",
            data = new { host = "127.0.0.1", port = 55432, user = "noetl_demo", password = "noetl_demo", database = "noetl_demo" },
        });
        Assert.Equal(HttpStatusCode.OK, credential.Status);
        await Http.Register(Executions.Example("postgres_step"));
        var executionId = await Http.Execute("examples/postgres_step", new { upto = 5 });
        var status = await Http.WaitTerminalAsync(executionId);
        Assert.True(status["status"]!.GetValue<string>() == "COMPLETED", (await Http.Events(executionId)).ToJsonString());
        var check = (await Http.Events(executionId)).Last(e => e!["event_type"]!.GetValue<string>() == "call.done")!["result"]!["context"]!;
        Assert.Equal(5, check["numbers"]!.GetValue<int>());
        Assert.Equal(15, check["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task Http_example_retries_transient_failures_and_completes()
    {
        // A service that fails with 503 twice, then answers like a healthy one.
        using var flaky = new LocalHttpService("/health", (_, n) => n <= 2 ? (503, """{"status":"starting"}""") : (200, """{"status":"ok"}"""));
        await Http.Register(Executions.Example("http_retry"));
        var executionId = await Http.Execute("examples/http_retry", new { url = flaky.Url });
        var status = await Http.WaitTerminalAsync(executionId);
        Assert.True(status["status"]!.GetValue<string>() == "COMPLETED", (await Http.Events(executionId)).ToJsonString());
        Assert.Equal(3, flaky.Requests);
        var steps = (await Http.Events(executionId)).Where(e => e!["event_type"]!.GetValue<string>() == "command.issued")
            .Select(e => e!["node_name"]!.GetValue<string>()).ToList();
        Assert.Equal(["start:task_sequence", "healthy"], steps); // a single tool with policy rules runs as a task sequence
    }

    [Fact]
    public async Task Cli_run_exits_zero_on_a_completed_playbook_and_non_zero_on_a_failing_one()
    {
        var (ok, output) = await System.CliAsync("run", Path.Combine(Executions.ExamplesFolder, "hello_world.yaml"));
        Assert.True(ok == 0, output);
        Assert.Contains("COMPLETED", output);
        Assert.Contains("report", output);

        var failing = Path.Combine(Path.GetTempPath(), $"failing-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(failing, """
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata: {name: failing, path: tests/failing_cli}
            workflow:
              - step: start
                tool:
                  kind: python
                  code: "raise ValueError('deliberate failure')"
            """);
        var (failed, failedOutput) = await System.CliAsync("run", failing);
        Assert.True(failed != 0, failedOutput);
        Assert.Contains("FAILED", failedOutput);
        File.Delete(failing);
    }

    [Fact]
    public async Task Workers_hold_no_PostgreSQL_connections_while_executing()
    {
        await Http.Register(Executions.Example("hello_world"));
        var samples = new ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            await using var connection = new NpgsqlConnection(System.Database.AdminConnectionString);
            await connection.OpenAsync();
            while (!stop.IsCancellationRequested)
            {
                await using var command = new NpgsqlCommand(
                    "SELECT usename || '/' || application_name FROM pg_stat_activity " +
                    // Clients only: an autovacuum worker on this database has no user (migration 0018 made them frequent).
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'", connection);
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                    samples.Add(reader.GetString(0));
                await Task.Delay(50);
            }
        });
        var executions = new List<long>();
        for (var i = 0; i < 5; i++)
            executions.Add(await Http.Execute("examples/hello_world"));
        foreach (var id in executions)
            Assert.Equal("COMPLETED", (await Http.WaitTerminalAsync(id))["status"]!.GetValue<string>());
        await stop.CancelAsync();
        await sampler;

        Assert.NotEmpty(samples);
        // Only the silo (server role) and the gateway's discovery role ever connect; workers never do.
        Assert.All(samples.Distinct(), s => Assert.Contains(s, new[]
        {
            "noetl_server/noetl-silo", "noetl_server/noetl-silo-cluster", "noetl_gateway/noetl-gateway",
        }));
    }

    [Fact]
    public async Task A_user_pool_worker_gets_403_on_the_internal_API_and_the_system_playbooks_complete_on_the_system_pool()
    {
        var cleanup = await Http.Execute("system/scheduled_cleanup");
        var cleanupStatus = await Http.WaitTerminalAsync(cleanup);
        Assert.Equal("COMPLETED", cleanupStatus["status"]!.GetValue<string>());
        var cleanupEvents = await Http.Events(cleanup);
        var claimedBy = cleanupEvents.Single(e => e!["event_type"]!.GetValue<string>() == "command.claimed")!["meta"]!["worker_id"]!.GetValue<string>();
        Assert.StartsWith("system-worker", claimedBy);
        var purged = cleanupEvents.Single(e => e!["event_type"]!.GetValue<string>() == "call.done")!["result"]!.ToJsonString();
        Assert.Contains("commands_purged", purged);

        // The projector adds informative envelopes to an existing execution, credited to whoever started the projector.
        var projector = await Http.Execute("system/projector", new
        {
            events = new[] { new { event_id = 8_800_000_001, execution_id = cleanup, event_type = "mirror.projected", node_name = "x" } },
        });
        Assert.Equal("COMPLETED", (await Http.WaitTerminalAsync(projector))["status"]!.GetValue<string>());
        Assert.Contains(await Http.Events(cleanup), e => e!["event_type"]!.GetValue<string>() == "mirror.projected");
        var audit = (await Http.Get($"/api/audit?action=events.project&execution_id={projector}")).Json["items"]!.AsArray();
        var credited = Assert.Single(audit)!;
        Assert.Equal("operator", credited["principal"]!.GetValue<string>());
        Assert.Equal("system-pool", credited["detail"]!["via"]!.GetValue<string>());

        // It cannot forge what only the owning execution writes, write under another catalog entry, or invent executions.
        var (otherCatalog, _) = await Http.Register(Playbooks.OneStep($"tests/anchor_{Guid.NewGuid():N}"));
        var forgeries = new object[]
        {
            new { event_id = 8_800_000_002, execution_id = cleanup, event_type = "command.completed", node_name = "start" },
            new { event_id = 8_800_000_003, execution_id = cleanup, event_type = "playbook.failed", node_name = "x" },
            new { event_id = 8_800_000_004, execution_id = cleanup, catalog_id = otherCatalog, event_type = "mirror.projected", node_name = "x" },
            new { event_id = 8_800_000_005, execution_id = 123_456_789, event_type = "mirror.projected", node_name = "x" },
        };
        foreach (var forgery in forgeries)
        {
            var refused = await Http.Execute("system/projector", new { events = new[] { forgery } });
            Assert.Equal("FAILED", (await Http.WaitTerminalAsync(refused))["status"]!.GetValue<string>());
        }
        Assert.DoesNotContain(await Http.Events(cleanup), e => e!["event_id"].Id() is > 8_800_000_001 and < 8_800_000_006);
        // And a user pool may not start it at all.
        var denied403 = await Http.Send(HttpMethod.Post, "/api/execute", new { path = "system/projector", workload = new { events = forgeries } },
            bearer: Bearers.SharedPool);
        Assert.Equal(HttpStatusCode.Forbidden, denied403.Status);

        // The same cleanup playbook under a user path runs on the user pool, which has no internal token.
        var yaml = (await Http.Post("/api/catalog/resource", new { path = "system/scheduled_cleanup" })).Json["content"]!.GetValue<string>();
        var userPath = $"tests/cleanup_as_user_{Guid.NewGuid():N}";
        await Http.Register(yaml.Replace("path: system/scheduled_cleanup", $"path: {userPath}"));
        var denied = await Http.Execute(userPath);
        var deniedStatus = await Http.WaitTerminalAsync(denied);
        Assert.Equal("FAILED", deniedStatus["status"]!.GetValue<string>());
        var deniedEvents = await Http.Events(denied);
        Assert.StartsWith("shared-worker", deniedEvents.Single(e => e!["event_type"]!.GetValue<string>() == "command.claimed")!["meta"]!["worker_id"]!.GetValue<string>());
        Assert.Contains("403", deniedEvents.Single(e => e!["event_type"]!.GetValue<string>() == "call.error")!.ToJsonString());
    }

    [Fact]
    public async Task Killing_the_user_worker_mid_command_redelivers_it_and_completes_it_exactly_once()
    {
        var path = $"tests/slow_{Guid.NewGuid():N}";
        await Http.Register($$"""
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata: {name: slow, path: {{path}}}
            workflow:
              - step: start
                tool:
                  kind: python
                  code: |
                    import time
                    time.sleep(4)
                    result = {"slept": 4}
            """);
        var victim = System.Workers.Single(w => w.Name.StartsWith("shared-worker", StringComparison.Ordinal));
        var executionId = await Http.Execute(path);
        await Eventually.WaitForAsync(async () => (await Http.Events(executionId)).Any(e => e!["event_type"]!.GetValue<string>() == "command.started"),
            "command.started");
        victim.Kill();
        System.Workers.Remove(victim);
        await victim.DisposeAsync();

        await System.StartWorkerAsync("shared", $"shared-worker-{Guid.NewGuid():N}"[..22]);
        var status = await Http.WaitTerminalAsync(executionId, TimeSpan.FromSeconds(90));
        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
        // The execution completes on call.done; the worker's command.completed follows it.
        await Eventually.WaitForAsync(async () => (await Http.Events(executionId)).Any(e => e!["event_type"]!.GetValue<string>() == "command.completed"),
            "command.completed");
        await Task.Delay(500); // a duplicate, if there were one, would arrive by now
        var events = await Http.Events(executionId);
        var claims = events.Where(e => e!["event_type"]!.GetValue<string>() == "command.claimed").ToList();
        Assert.Equal(2, claims.Count);
        Assert.True(claims[1]!["meta"]!["reclaimed"]!.GetValue<bool>());
        Assert.Single(events, e => e!["event_type"]!.GetValue<string>() == "command.completed");
        Assert.Single(events, e => e!["event_type"]!.GetValue<string>() == "call.done");
    }

    [Fact]
    public async Task Twenty_executions_survive_a_ten_second_NATS_outage_without_loss_or_double_execution()
    {
        var path = $"tests/outage_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.ThreeSteps(path));
        await System.StopNatsAsync();
        var executions = new List<long>();
        for (var i = 0; i < 20; i++)
            executions.Add(await Http.Execute(path, new { count = i }));
        await Task.Delay(TimeSpan.FromSeconds(10));
        Assert.All(await Task.WhenAll(executions.Select(id => Http.Status(id))), s => Assert.Equal("RUNNING", s["status"]!.GetValue<string>()));
        await System.StartNatsAsync();

        foreach (var id in executions)
            Assert.Equal("COMPLETED", (await Http.WaitTerminalAsync(id, TimeSpan.FromSeconds(120)))["status"]!.GetValue<string>());
        await using var connection = new NpgsqlConnection(System.Database.AdminConnectionString);
        await connection.OpenAsync();
        // Executions complete on call.done; each command's command.completed follows shortly after.
        await Eventually.WaitForAsync(async () =>
        {
            await using var tail = new NpgsqlCommand("SELECT count(*) FROM noetl.event WHERE execution_id = ANY($1) AND event_type = 'command.completed'", connection);
            tail.Parameters.AddWithValue(executions.ToArray());
            return (long)(await tail.ExecuteScalarAsync())! >= 60;
        }, "every command.completed");
        await using var command = new NpgsqlCommand(
            """
            SELECT count(*) FILTER (WHERE event_type = 'call.done'), count(*) FILTER (WHERE event_type = 'command.completed'),
                   count(DISTINCT command_id) FILTER (WHERE event_type = 'call.done')
              FROM noetl.event WHERE execution_id = ANY($1)
            """, connection);
        command.Parameters.AddWithValue(executions.ToArray());
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(60, reader.GetInt64(0)); // 20 executions × 3 steps, each run once
        Assert.Equal(60, reader.GetInt64(1));
        Assert.Equal(60, reader.GetInt64(2));
    }

    [Fact]
    public async Task Rows_claimed_by_a_publisher_that_died_are_delivered_by_another_after_the_visibility_timeout()
    {
        var publisher = System.Workers.Single(w => w.Name.StartsWith("system-worker", StringComparison.Ordinal));
        await publisher.StopAsync(TimeSpan.FromSeconds(20));
        System.Workers.Remove(publisher);
        await publisher.DisposeAsync();

        var executions = new List<long>();
        DateTime orphanedAt;
        ApiResponse claimed;
        try
        {
            var path = $"tests/orphaned_{Guid.NewGuid():N}";
            await Http.Register(Playbooks.OneStep(path));
            for (var i = 0; i < 3; i++)
                executions.Add(await Http.Execute(path));
            // This test plays the publisher that claims a batch and dies before publishing it.
            claimed = await Http.Send(HttpMethod.Post, "/api/internal/outbox/claim", new { limit = 100 }, bearer: "Bearer " + NoEtlSystem.InternalToken);
            orphanedAt = DateTime.UtcNow;
        }
        finally
        {
            await System.StartWorkerAsync("system", $"system-worker-{Guid.NewGuid():N}"[..22]);
        }
        // A publisher stopped while its long-poll was parked may have taken rows too: either way they are orphaned.
        Assert.True(claimed.Json["claimed"]!.GetValue<int>() >= 1, claimed.Text);
        foreach (var id in executions)
            Assert.Equal("COMPLETED", (await Http.WaitTerminalAsync(id, TimeSpan.FromSeconds(60)))["status"]!.GetValue<string>());
        Assert.True(DateTime.UtcNow - orphanedAt >= TimeSpan.FromSeconds(3), "rows were re-delivered before the visibility timeout");
    }

    private async Task<List<long>> ChildExecutionsAsync(long parent)
    {
        await using var connection = new NpgsqlConnection(System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT execution_id FROM noetl.execution WHERE parent_execution_id = $1", connection);
        command.Parameters.AddWithValue(parent);
        var children = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            children.Add(reader.GetInt64(0));
        return children;
    }
}
