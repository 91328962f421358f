using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;
using static NoEtl.Integration.Tests.Infrastructure.Bearers;

namespace NoEtl.Integration.Tests;

/// <summary>
/// A gateway with the product's default log levels (no test override) and lease tokens required: what a flood of
/// bad tokens costs, and strict mode.
/// </summary>
public sealed class HardenedSystemFixture : IAsyncLifetime
{
    public NoEtlSystem System { get; private set; } = null!;

    public async Task InitializeAsync() => System = await NoEtlSystem.StartAsync(
        siloSettings: new()
        {
            ["NOETL_REQUIRE_LEASE_TOKEN"] = "true",
            ["NOETL_CLEANUP_INTERVAL_SECONDS"] = "2",
            ["NOETL_REMINDER_PERIOD_SECONDS"] = "2",
        },
        gatewaySettings: new()
        {
            ["Logging__LogLevel__Default"] = "",
            ["NOETL_AUTH_FAILURE_BURST"] = "",
            ["NOETL_AUTH_FAILURES_PER_SECOND"] = "",
            ["NOETL_OPERATOR_TOKEN"] = PrincipalTokens.Operator,
        });

    public async Task DisposeAsync() => await System.DisposeAsync();
}

public sealed class HardenedGatewayTests(HardenedSystemFixture fixture) : IClassFixture<HardenedSystemFixture>
{
    private HttpClient Http => fixture.System.Http;

    [Fact]
    public async Task Metrics_need_the_operator_and_the_openapi_document_is_public()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await Http.Send(HttpMethod.Get, "/metrics", bearer: "")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Http.Send(HttpMethod.Get, "/metrics", bearer: SharedPool)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Http.Send(HttpMethod.Get, "/metrics", bearer: SystemPool)).Status);
        var scrape = await Http.Send(HttpMethod.Get, "/metrics", bearer: Operator);
        Assert.Equal(HttpStatusCode.OK, scrape.Status);
        Assert.Contains("http_server_request_duration", scrape.Text);
        Assert.Equal(HttpStatusCode.OK, (await Http.Send(HttpMethod.Get, "/openapi/v1.json", bearer: "")).Status);
    }


    [Fact]
    public async Task A_flood_of_bad_tokens_costs_the_attacker_not_honest_workers_nor_the_disk()
    {
        var path = $"tests/flood_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        var gateway = fixture.System.Gateways[0];
        var logBefore = gateway.Output.Length;

        using var attacker = new HttpClient { BaseAddress = new Uri(fixture.System.GatewayUrl), Timeout = TimeSpan.FromSeconds(30) };
        var statuses = new ConcurrentDictionary<int, int>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var flood = Enumerable.Range(0, 200).Select(client => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/events")
                {
                    Content = new StringContent("""{"execution_id": 1, "step": "s", "name": "x"}""", System.Text.Encoding.UTF8, "application/json"),
                };
                request.Headers.TryAddWithoutValidation("Authorization", $"Bearer stolen-{client}");
                try
                {
                    using var response = await attacker.SendAsync(request);
                    statuses.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
                }
                catch (HttpRequestException)
                {
                    statuses.AddOrUpdate(0, 1, (_, n) => n + 1);
                }
            }
        })).ToList();

        // Meanwhile an honest worker keeps reporting, from a thread of its own with blocking calls: what is measured
        // is the server's answer, not this process's thread pool, which the 200 flooding clients keep busy.
        var latencies = new List<double>();
        var failures = new List<string>();
        var honestWorker = new Thread(() =>
        {
            using var client = new HttpClient { BaseAddress = new Uri(fixture.System.GatewayUrl), Timeout = TimeSpan.FromSeconds(30) };
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/events")
                {
                    Content = new StringContent(new JsonObject
                    {
                        ["execution_id"] = executionId,
                        ["step"] = "start",
                        ["name"] = "worker.progress",
                        ["worker_id"] = "honest",
                        ["payload"] = new JsonObject { ["n"] = n },
                    }.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
                };
                request.Headers.TryAddWithoutValidation("Authorization", SharedPool);
                var clock = Stopwatch.StartNew();
                using var response = client.Send(request);
                latencies.Add(clock.Elapsed.TotalMilliseconds);
                if (response.StatusCode != HttpStatusCode.OK)
                    failures.Add($"{(int)response.StatusCode}");
                Thread.Sleep(20);
            }
        });
        honestWorker.Start();
        honestWorker.Join();
        await Task.WhenAll(flood);

        latencies.Sort();
        double Percentile(double p) => latencies[(int)Math.Ceiling(latencies.Count * p) - 1];
        var refused = statuses.Where(s => s.Key is 401 or 429).Sum(s => s.Value);
        Assert.Empty(failures);
        // The 90th percentile, not the 99th: over a few dozen calls the 99th is the single slowest one, which a GC pause
        // or the other test assemblies sharing two cores set on their own. A flood that starved honest workers would
        // slow most of their calls, not one.
        Assert.True(Percentile(0.90) < 1000, $"honest p90 {Percentile(0.90):F0} ms (p99 {Percentile(0.99):F0} ms) over {latencies.Count} events; "
            + $"attacker statuses {string.Join(", ", statuses)}");
        Assert.True(statuses.GetValueOrDefault(429) > 0, $"no request was throttled: {string.Join(", ", statuses)}");
        var logGrowth = gateway.Output.Length - logBefore;
        Assert.True(logGrowth < 10 * 1024 * 1024, $"gateway log grew by {logGrowth} characters for {refused} refused requests");

        // Refusals are audited as a few aggregated rows that add up to what was refused.
        long rows = 0, counted = 0;
        await Eventually.WaitForAsync(async () =>
        {
            (rows, counted) = await DeniedAsync();
            return counted >= refused;
        }, $"auth.denied rows counting {refused} refusals");
        Assert.True(rows < 100, $"{rows} audit rows for {refused} refusals");
    }

    [Fact]
    public async Task In_strict_mode_lifecycle_events_must_echo_the_lease_token()
    {
        var path = $"tests/strict_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        var eventId = Assert.Single(await new SimulatedWorker(Http, "strict").PendingCommandEventsAsync(executionId));
        var claim = await Http.Claim(eventId, "strict");
        var commandId = claim.Json["meta"]!["command_id"]!.GetValue<long>();

        var withoutToken = await Http.Event(executionId, "start", "command.started", new JsonObject { ["command_id"] = commandId }, "strict");
        Assert.Equal(HttpStatusCode.Conflict, withoutToken.Status);
        Assert.Equal("lease_token_required", withoutToken.Json["detail"]!["code"]!.GetValue<string>());

        await new SimulatedWorker(Http, "strict").CompleteAsync(claim.Json, new JsonObject { ["ok"] = true });
        Assert.Equal("COMPLETED", (await Http.WaitTerminalAsync(executionId))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_server_starts_its_cleanup_playbook_itself()
    {
        await Eventually.WaitForAsync(async () => await fixture.System.AdminCountAsync(
                "SELECT count(*) FROM noetl.event WHERE event_type = 'playbook.initialized' " +
                "AND node_name = 'system/scheduled_cleanup' AND context->'started_by'->>'principal' = 'system'") > 0,
            "a scheduled run of system/scheduled_cleanup started by the server", TimeSpan.FromSeconds(60));
    }

    private async Task<(long Rows, long Counted)> DeniedAsync()
    {
        await using var connection = new NpgsqlConnection(fixture.System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*), COALESCE(sum((detail->>'count')::bigint), 0)::bigint FROM noetl.audit WHERE action = 'auth.denied'", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}
