using System.Net;
using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

[Collection(SystemCollection.Name)]
public sealed class InternalApiTests(SystemFixture fixture)
{
    private const string Bearer = "Bearer " + NoEtlSystem.InternalToken;
    private HttpClient Http => fixture.Http;

    private Task<ApiResponse> Internal(HttpMethod method, string path, object? body = null, string? bearer = Bearer) =>
        Http.Send(method, path, body ?? (method == HttpMethod.Get ? null : new { }), bearer: bearer);

    [Fact]
    public async Task The_gate_answers_503_403_403_403_200_and_never_401()
    {
        var (_, unconfiguredUrl) = await fixture.System.StartGatewayAsync(internalToken: null);
        using var unconfigured = new HttpClient { BaseAddress = new Uri(unconfiguredUrl) };
        var notConfigured = await unconfigured.Send(HttpMethod.Get, "/api/internal/outbox/pending-count", bearer: Bearer);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notConfigured.Status);
        Assert.Contains("NOETL_INTERNAL_API_TOKEN", notConfigured.Json["detail"]!.GetValue<string>());

        Assert.Equal(HttpStatusCode.Forbidden, (await Internal(HttpMethod.Get, "/api/internal/outbox/pending-count", bearer: null)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Internal(HttpMethod.Get, "/api/internal/outbox/pending-count", bearer: "Basic " + NoEtlSystem.InternalToken)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Internal(HttpMethod.Get, "/api/internal/outbox/pending-count", bearer: "Bearer")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Internal(HttpMethod.Get, "/api/internal/outbox/pending-count", bearer: "Bearer wrong-token")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Internal(HttpMethod.Post, "/api/internal/outbox/claim", bearer: "Bearer " + NoEtlSystem.InternalToken + "x")).Status);
        var ok = await Internal(HttpMethod.Get, "/api/internal/outbox/pending-count", bearer: "bearer " + NoEtlSystem.InternalToken);
        Assert.Equal(HttpStatusCode.OK, ok.Status);
        Assert.True(ok.Json["pending"]!.GetValue<long>() >= 0);
    }

    [Fact]
    public async Task Concurrent_claimers_get_disjoint_rows_and_together_every_pending_row_once()
    {
        await Http.DrainOutboxAsync();
        await IssueCommandsAsync(12);
        var pendingBefore = await PendingIdsAsync();
        Assert.Equal(12, pendingBefore.Count);

        var claims = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            var ids = new List<long>();
            while (true)
            {
                var response = await Internal(HttpMethod.Post, "/api/internal/outbox/claim", new { limit = 3 });
                Assert.Equal(HttpStatusCode.OK, response.Status);
                var rows = response.Json["rows"]!.AsArray();
                if (rows.Count == 0)
                    return ids;
                foreach (var row in rows)
                {
                    ids.Add(row!["outbox_id"]!.GetValue<long>());
                    Assert.StartsWith("noetl.commands.shared.", row["subject"]!.GetValue<string>());
                    Assert.NotNull(row["payload"]!["event_id"]);
                    Assert.Equal(fixture.System.GatewayUrl, row["payload"]!["server_url"]!.GetValue<string>());
                }
            }
        }));

        var all = claims.SelectMany(c => c).ToList();
        Assert.Equal(all.Count, all.Distinct().Count()); // disjoint
        Assert.Equal(pendingBefore.Order(), all.Order()); // every pending row, each exactly once

        var published = await Internal(HttpMethod.Post, "/api/internal/outbox/mark-published", new { outbox_ids = all });
        Assert.Equal(all.Count, published.Json["marked"]!.GetValue<int>());
        Assert.Equal(0, (await Internal(HttpMethod.Get, "/api/internal/outbox/pending-count")).Json["pending"]!.GetValue<long>());
    }

    [Fact]
    public async Task Mark_failed_backs_off_exponentially_up_to_the_cap()
    {
        await IssueCommandsAsync(1);
        var claimed = await Internal(HttpMethod.Post, "/api/internal/outbox/claim", new { limit = 1000 });
        var ids = claimed.Json["rows"]!.AsArray().Select(r => r!["outbox_id"]!.GetValue<long>()).ToList();
        var id = ids[0];

        foreach (var (attempts, maxDelay, expected) in new[] { (1, 300, 1), (2, 300, 2), (4, 300, 8), (9, 300, 256), (20, 300, 256), (9, 60, 60) })
        {
            var failed = await Internal(HttpMethod.Post, "/api/internal/outbox/mark-failed",
                new { outbox_id = id, error = "nats down", attempts, max_delay_seconds = maxDelay });
            Assert.Equal(HttpStatusCode.OK, failed.Status);
            Assert.Equal(expected, failed.Json["available_at_in"]!.GetValue<int>());
            var (status, seconds, error) = await RowAsync(id);
            Assert.Equal("FAILED", status);
            Assert.InRange(seconds, expected - 2, expected + 1);
            Assert.Equal("nats down", error);
        }
        await Internal(HttpMethod.Post, "/api/internal/outbox/mark-published", new { outbox_ids = ids });
    }

    [Fact]
    public async Task Pending_count_counts_due_pending_rows()
    {
        var before = (await Internal(HttpMethod.Get, "/api/internal/outbox/pending-count")).Json["pending"]!.GetValue<long>();
        await IssueCommandsAsync(3);
        var after = (await Internal(HttpMethod.Get, "/api/internal/outbox/pending-count")).Json["pending"]!.GetValue<long>();
        Assert.Equal(before + 3, after);
        await Http.DrainOutboxAsync();
    }

    [Fact]
    public async Task An_abandoned_in_flight_row_is_claimable_again_after_the_visibility_timeout()
    {
        await Http.DrainOutboxAsync();
        await IssueCommandsAsync(1);
        var first = await Internal(HttpMethod.Post, "/api/internal/outbox/claim", new { limit = 10 });
        var row = Assert.Single(first.Json["rows"]!.AsArray());
        var id = row!["outbox_id"]!.GetValue<long>();

        Assert.Empty((await Internal(HttpMethod.Post, "/api/internal/outbox/claim", new { limit = 10 })).Json["rows"]!.AsArray());
        await Task.Delay(TimeSpan.FromSeconds(3.5)); // the fixture's visibility timeout is 3 s
        var again = await Internal(HttpMethod.Post, "/api/internal/outbox/claim", new { limit = 10 });
        var reclaimed = Assert.Single(again.Json["rows"]!.AsArray());
        Assert.Equal(id, reclaimed!["outbox_id"]!.GetValue<long>());
        Assert.Equal(2, reclaimed["attempts"]!.GetValue<int>());
        await Internal(HttpMethod.Post, "/api/internal/outbox/mark-published", new { outbox_ids = new[] { id } });
    }

    [Fact]
    public async Task Events_project_inserts_new_envelopes_and_counts_duplicates()
    {
        var path = $"tests/project_{Guid.NewGuid():N}";
        var (catalogId, _) = await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        var events = new JsonArray
        {
            new JsonObject { ["event_id"] = 9_000_000_001, ["execution_id"] = executionId, ["catalog_id"] = catalogId, ["event_type"] = "mirror.a", ["node_name"] = "x", ["result"] = new JsonObject { ["status"] = "COMPLETED" } },
            new JsonObject { ["event_id"] = 9_000_000_002, ["execution_id"] = executionId.ToString(), ["catalog_id"] = catalogId, ["event_type"] = "mirror.b" },
        };
        var first = await Internal(HttpMethod.Post, "/api/internal/events/project", new JsonObject { ["events"] = events });
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(2, first.Json["projected"]!.GetValue<int>());
        Assert.Equal(0, first.Json["duplicates"]!.GetValue<int>());

        var second = await Internal(HttpMethod.Post, "/api/internal/events/project", new JsonObject { ["events"] = events.DeepClone() });
        Assert.Equal(0, second.Json["projected"]!.GetValue<int>());
        Assert.Equal(2, second.Json["duplicates"]!.GetValue<int>());

        var bad = await Internal(HttpMethod.Post, "/api/internal/events/project", new { events = new[] { new { execution_id = 1 } } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.Status);
        var badShape = await Internal(HttpMethod.Post, "/api/internal/events/project",
            new { events = new[] { new { event_id = 9_000_000_003, execution_id = executionId, result = new { data = 1 } } } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, badShape.Status);

        // The execution still works after the projection rebuilt its grain.
        Assert.Equal("RUNNING", (await Http.Status(executionId))["status"]!.GetValue<string>());
    }

    private async Task IssueCommandsAsync(int count)
    {
        var path = $"tests/outbox_{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        for (var i = 0; i < count; i++)
            await Http.Execute(path);
    }

    private async Task<List<long>> PendingIdsAsync()
    {
        await using var connection = new NpgsqlConnection(fixture.System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT outbox_id FROM noetl.outbox WHERE status IN ('PENDING','FAILED') AND available_at <= now()", connection);
        var ids = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            ids.Add(reader.GetInt64(0));
        return ids;
    }

    private async Task<(string Status, double SecondsUntilAvailable, string? Error)> RowAsync(long id)
    {
        await using var connection = new NpgsqlConnection(fixture.System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT status, EXTRACT(EPOCH FROM available_at - now())::float8, last_error FROM noetl.outbox WHERE outbox_id = $1", connection);
        command.Parameters.AddWithValue(id);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetString(0), reader.GetDouble(1), reader.IsDBNull(2) ? null : reader.GetString(2));
    }
}
