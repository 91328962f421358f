using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;
using NoEtl.TestSupport;

namespace NoEtl.Integration.Tests;

/// <summary>
/// The reason the boundary exists: however many HTTP clients there are, PostgreSQL sees at most the silo's pool,
/// and the gateway's role holds nothing but silo discovery — the database itself forbids it from <c>noetl.*</c>.
/// </summary>
public sealed class ConnectionIsolationTests : IAsyncLifetime
{
    private const int PoolSize = 6;
    private NoEtlSystem _system = null!;

    public async Task InitializeAsync() => _system = await NoEtlSystem.StartAsync(silos: 1, poolSize: PoolSize);

    public async Task DisposeAsync() => await _system.DisposeAsync();

    [Fact]
    public async Task Hundred_concurrent_clients_for_twenty_seconds_stay_within_the_silo_pool()
    {
        var http = _system.Http;
        var path = $"tests/isolation_{Guid.NewGuid():N}";
        await http.Register(Playbooks.OneStep(path));
        var executions = new List<long>();
        for (var i = 0; i < 20; i++)
            executions.Add(await http.Execute(path));

        var samples = new ConcurrentBag<(string Role, string App, string Query, int Count)>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var sampler = SampleAsync(samples, stop.Token);
        var accepted = 0;
        var failures = new ConcurrentBag<string>();
        var clients = Enumerable.Range(0, 100).Select(async client =>
        {
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                var executionId = executions[(client + n++) % executions.Count];
                var response = await http.Send(HttpMethod.Post, "/api/events", new JsonObject
                {
                    ["execution_id"] = executionId,
                    ["event_type"] = "worker.progress", // informative: events without a command may not take engine types
                    ["node_name"] = "start",
                    ["context"] = new JsonObject { ["client"] = client, ["n"] = n },
                    ["actionable"] = false,
                });
                if (response.Status == HttpStatusCode.OK)
                    Interlocked.Increment(ref accepted);
                else if (response.Status != HttpStatusCode.ServiceUnavailable) // 503 + Retry-After is the overload contract
                    failures.Add($"{(int)response.Status} {response.Text}");
            }
        });
        await Task.WhenAll(clients);
        await sampler;

        Assert.Empty(failures);
        Assert.True(accepted > 1000, $"only {accepted} events accepted");
        var siloPeak = samples.Where(s => s.Role == PgTestDatabase.ServerRole).GroupBy(s => s.App).Sum(g => g.Max(s => s.Count));
        Assert.InRange(siloPeak, 1, PoolSize);
        var gatewaySamples = samples.Where(s => s.Role == PgTestDatabase.DiscoveryRole).ToList();
        Assert.All(gatewaySamples, s => Assert.DoesNotContain("noetl.", s.Query));
        Assert.True(gatewaySamples.Count == 0 || gatewaySamples.Max(s => s.Count) <= 2);
    }

    [Fact]
    public async Task The_gateway_role_is_denied_the_noetl_schema_by_the_database()
    {
        await using var connection = new NpgsqlConnection(_system.Database.DiscoveryConnectionString);
        await connection.OpenAsync();
        foreach (var sql in new[] { "SELECT count(*) FROM noetl.event", "INSERT INTO noetl.command (command_id) VALUES (1)", "SELECT * FROM noetl.outbox" })
        {
            await using var command = new NpgsqlCommand(sql, connection);
            var error = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, error.SqlState);
            Assert.Contains("permission denied", error.MessageText);
        }
    }

    private async Task SampleAsync(ConcurrentBag<(string, string, string, int)> samples, CancellationToken stop)
    {
        await using var connection = new NpgsqlConnection(_system.Database.AdminConnectionString);
        await connection.OpenAsync(CancellationToken.None);
        while (!stop.IsCancellationRequested)
        {
            await using var command = new NpgsqlCommand(
                """
                SELECT usename, application_name, string_agg(query, ' | '), count(*)::int FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY usename, application_name
                """, connection);
            await using var reader = await command.ExecuteReaderAsync(CancellationToken.None);
            while (await reader.ReadAsync(CancellationToken.None))
                samples.Add((reader.IsDBNull(0) ? "" : reader.GetString(0), reader.IsDBNull(1) ? "" : reader.GetString(1),
                    reader.IsDBNull(2) ? "" : reader.GetString(2), reader.GetInt32(3)));
            await Task.Delay(100, CancellationToken.None);
        }
    }
}
