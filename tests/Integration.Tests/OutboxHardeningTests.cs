using System.Net;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>
/// Outbox hardening on a system of its own (rows are inserted directly, so no other test's rows interfere):
/// the attempt cap dead-letters a row (also one whose publishers vanish before reporting), dead letters are listed and
/// requeued, claims hand out due rows in outbox_id order without holding an execution's later rows back behind an
/// earlier held or failed one (also behind a long published history), the purge removes old published rows, and so
/// does the outbox grain's own retention.
/// </summary>
public sealed class OutboxHardeningTests(OutboxHardeningTests.Fixture fixture) : IClassFixture<OutboxHardeningTests.Fixture>
{
    private const string Bearer = "Bearer " + NoEtlSystem.InternalToken;
    private NoEtlSystem System => fixture.System;

    /// <summary>
    /// One silo with an attempt cap of 2; a long visibility timeout so claimed rows stay claimed; the retention
    /// purge every second, long-polls that re-poll only once a minute, with a retention of 30 days, which the cleanup purge applies too.
    /// </summary>
    public sealed class Fixture : IAsyncLifetime
    {
        public NoEtlSystem System { get; private set; } = null!;

        public async Task InitializeAsync() => System = await NoEtlSystem.StartAsync(silos: 1, poolSize: 6, siloSettings: new()
        {
            ["NOETL_OUTBOX_MAX_ATTEMPTS"] = "2",
            ["NOETL_OUTBOX_VISIBILITY_TIMEOUT_SECONDS"] = "30",
            ["NOETL_OUTBOX_RETENTION_SECONDS"] = "2592000", // 30 days
            ["NOETL_OUTBOX_PURGE_INTERVAL_SECONDS"] = "1",
            ["NOETL_OUTBOX_REPOLL_MS"] = "60000", // a parked long-poll wakes only on a commit here
        });

        public async Task DisposeAsync() => await System.DisposeAsync();
    }

    private Task<ApiResponse> Internal(HttpMethod method, string path, object? body = null, string? bearer = Bearer) =>
        System.Http.Send(method, path, body ?? (method == HttpMethod.Get ? null : new { }), bearer: bearer);

    [Fact]
    public async Task A_row_failing_past_the_attempt_cap_is_dead_listed_requeued_and_published()
    {
        var executionId = Random.Shared.NextInt64(1, long.MaxValue);
        var ids = await InsertRowsAsync(executionId, 3);

        // Attempt 1 fails: retried later. Attempt 2 (the cap) fails: DEAD, and no longer claimable.
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var claimed = await ClaimAsync(limit: 1);
            Assert.Equal([ids[0]], claimed);
            var failed = await Internal(HttpMethod.Post, "/api/internal/outbox/mark-failed",
                new { outbox_id = ids[0], error = "nats down", attempts = attempt, max_delay_seconds = 1 });
            Assert.Equal(HttpStatusCode.OK, failed.Status);
            Assert.Equal(attempt == 2, failed.Json["dead"]!.GetValue<bool>());
            if (attempt == 1)
                await Task.Delay(1200); // the backoff of attempt 1
        }
        Assert.Equal("DEAD", await StatusAsync(ids[0]));

        // A dead row does not hold its execution back: the later rows are claimed, in order.
        Assert.Equal([ids[1], ids[2]], await ClaimAsync(limit: 10));

        var dead = await Internal(HttpMethod.Get, "/api/internal/outbox/dead?limit=10");
        Assert.Equal(HttpStatusCode.OK, dead.Status);
        var item = Assert.Single(dead.Json["items"]!.AsArray());
        Assert.Equal(ids[0], item!["outbox_id"]!.GetValue<long>());
        Assert.Equal(executionId, item["execution_id"]!.GetValue<long>());
        Assert.Equal(2, item["attempts"]!.GetValue<int>());
        Assert.Equal("nats down", item["last_error"]!.GetValue<string>());

        var requeued = await Internal(HttpMethod.Post, "/api/internal/outbox/requeue", new { outbox_ids = new[] { ids[0] } });
        Assert.Equal(1, requeued.Json["requeued"]!.GetValue<int>());
        Assert.Empty((await Internal(HttpMethod.Get, "/api/internal/outbox/dead")).Json["items"]!.AsArray());
        var again = await Internal(HttpMethod.Post, "/api/internal/outbox/claim", new { limit = 10 });
        var row = Assert.Single(again.Json["rows"]!.AsArray());
        Assert.Equal(ids[0], row!["outbox_id"]!.GetValue<long>());
        Assert.Equal(1, row["attempts"]!.GetValue<int>()); // attempts were reset
        await Internal(HttpMethod.Post, "/api/internal/outbox/mark-published", new { outbox_ids = ids });
    }

    /// <summary>
    /// A poison row that kills every publisher before it can mark-failed: each claimer vanishes (the test ages the claim
    /// past the visibility timeout instead of waiting 30 s), and the reclaims count as attempts until the cap makes it
    /// DEAD. A row abandoned beside it is reclaimed in a claim of its own, so its publisher publishes it.
    /// </summary>
    [Fact]
    public async Task A_row_whose_publishers_all_vanish_is_dead_after_the_cap_of_claims()
    {
        var executionId = Random.Shared.NextInt64(1, long.MaxValue);
        var ids = await InsertRowsAsync(executionId, 2);

        // Attempt 1: one claim takes both rows, and its publisher vanishes.
        Assert.Equal(ids, await ClaimAsync(limit: 10));
        Assert.Empty(await ClaimAsync(limit: 10));
        await AdminAsync("UPDATE noetl.outbox SET locked_at = now() - interval '31 seconds' WHERE outbox_id = ANY($1)", ids);

        // Attempt 2 (the cap): each abandoned row comes back alone. The poison row's publisher vanishes again; the
        // other row's publisher publishes it.
        Assert.Equal([ids[0]], await ClaimAsync(limit: 10));
        Assert.Equal([ids[1]], await ClaimAsync(limit: 10));
        await Internal(HttpMethod.Post, "/api/internal/outbox/mark-published", new { outbox_ids = new[] { ids[1] } });

        // The next claim finds the poison row abandoned at the cap and dead-letters it instead.
        await AdminAsync("UPDATE noetl.outbox SET locked_at = now() - interval '31 seconds' WHERE outbox_id = $1", ids[0]);
        Assert.Empty(await ClaimAsync(limit: 10));
        Assert.Equal("DEAD", await StatusAsync(ids[0]));
        Assert.Equal("PUBLISHED", await StatusAsync(ids[1]));
        var dead = (await Internal(HttpMethod.Get, "/api/internal/outbox/dead?limit=1000")).Json["items"]!.AsArray()
            .Single(i => i!["outbox_id"]!.GetValue<long>() == ids[0])!;
        Assert.Equal(2, dead["attempts"]!.GetValue<int>());
        Assert.Contains("visibility timeout", dead["last_error"]!.GetValue<string>());
        await AdminAsync("DELETE FROM noetl.outbox WHERE outbox_id = ANY($1)", ids);
    }

    [Fact]
    public async Task Requeue_all_and_paging_of_dead_letters_and_the_gate()
    {
        var executionIds = Enumerable.Range(0, 3).Select(_ => Random.Shared.NextInt64(1, long.MaxValue)).ToList();
        var ids = new List<long>();
        foreach (var executionId in executionIds)
            ids.AddRange(await InsertRowsAsync(executionId, 1, status: "DEAD"));

        var first = await Internal(HttpMethod.Get, "/api/internal/outbox/dead?limit=2");
        Assert.Equal(2, first.Json["items"]!.AsArray().Count);
        var next = first.Json["next_after_id"]!.GetValue<long>();
        var second = await Internal(HttpMethod.Get, $"/api/internal/outbox/dead?limit=2&after_id={next}");
        var paged = first.Json["items"]!.AsArray().Concat(second.Json["items"]!.AsArray()).Select(i => i!["outbox_id"]!.GetValue<long>()).ToList();
        Assert.Equal(ids.Order(), paged.Where(ids.Contains).Order());
        Assert.Null(second.Json["next_after_id"]);

        Assert.Equal(HttpStatusCode.Forbidden, (await Internal(HttpMethod.Get, "/api/internal/outbox/dead", bearer: null)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Internal(HttpMethod.Post, "/api/internal/outbox/requeue", new { all = true }, bearer: null)).Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Internal(HttpMethod.Post, "/api/internal/outbox/requeue", new { })).Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Internal(HttpMethod.Get, "/api/internal/outbox/dead?limit=0")).Status);

        var requeued = await Internal(HttpMethod.Post, "/api/internal/outbox/requeue", new { all = true });
        Assert.True(requeued.Json["requeued"]!.GetValue<int>() >= 3);
        foreach (var id in ids)
            Assert.Equal("PENDING", await StatusAsync(id));
        var claimed = await ClaimAsync(limit: 100);
        Assert.Superset(ids.ToHashSet(), claimed.ToHashSet());
        await Internal(HttpMethod.Post, "/api/internal/outbox/mark-published", new { outbox_ids = claimed });
    }

    [Fact]
    public async Task Later_rows_of_an_execution_are_claimed_while_an_earlier_one_is_held_or_waits_for_its_retry()
    {
        var rowsA = await InsertRowsAsync(Random.Shared.NextInt64(1, long.MaxValue), 4);
        var rowsB = await InsertRowsAsync(Random.Shared.NextInt64(1, long.MaxValue), 1);

        // A's first row is held by a publisher (claimed, not acknowledged) and its second waits for a retry an hour away...
        Assert.Equal([rowsA[0]], await ClaimAsync(limit: 1));
        await AdminAsync("UPDATE noetl.outbox SET status = 'FAILED', attempts = 1, available_at = now() + interval '1 hour' WHERE outbox_id = ANY($1)", [rowsA[1]]);

        // ...which holds nothing back (docs/architecture.md, "Outbox order"): the next claim gets the rest of A and B's
        // row, in outbox_id order, and then nothing is due.
        Assert.Equal([rowsA[2], rowsA[3], rowsB[0]], await ClaimAsync(limit: 10));
        Assert.Empty(await ClaimAsync(limit: 10));
        await AdminAsync("DELETE FROM noetl.outbox WHERE outbox_id = ANY($1)", [.. rowsA, .. rowsB]);
    }

    [Fact]
    public async Task A_parked_long_poll_wakes_on_a_commit_not_on_its_re_poll()
    {
        await System.Http.DrainOutboxAsync();
        var path = $"tests/wake_{Guid.NewGuid():N}";
        await System.Http.Register(Playbooks.OneStep(path));
        var poll = Internal(HttpMethod.Post, "/api/internal/outbox/claim", new { limit = 10, wait_ms = 30_000 });
        await Task.Delay(500); // let it park (a claim before the commit would only make the test pass sooner)

        var executionId = await System.Http.Execute(path);
        // The re-poll is a minute away and the wait half of one: only the commit's signal can answer within 20 s.
        var finished = await Task.WhenAny(poll, Task.Delay(TimeSpan.FromSeconds(20)));
        Assert.True(finished == poll, "the long-poll was not woken by the commit");
        var row = Assert.Single((await poll).Json["rows"]!.AsArray());
        Assert.Equal(executionId.ToString(), row!["payload"]!["execution_id"]!.ToString());
        await Internal(HttpMethod.Post, "/api/internal/outbox/mark-published", new { outbox_ids = new[] { row["outbox_id"]!.GetValue<long>() } });
    }

    [Fact]
    public async Task The_cleanup_purge_applies_the_one_outbox_retention_and_refuses_a_second_one()
    {
        var executionId = Random.Shared.NextInt64(1, long.MaxValue);
        var ids = await InsertRowsAsync(executionId, 3, status: "PUBLISHED");
        await AdminAsync("UPDATE noetl.outbox SET published_at = now() - interval '31 days' WHERE outbox_id = $1", ids[0]);
        await AdminAsync("UPDATE noetl.outbox SET published_at = now() - interval '48 hours' WHERE outbox_id = $1", ids[1]);
        await AdminAsync("UPDATE noetl.outbox SET status = 'DEAD', published_at = NULL, updated_at = now() - interval '60 days' WHERE outbox_id = $1", ids[2]);

        // A caller cannot shorten the server's retention (it once could, with outbox_retention_hours).
        var shortened = await Internal(HttpMethod.Post, "/api/internal/cleanup/purge", new { outbox_retention_hours = 24 });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, shortened.Status);
        Assert.Equal("outbox_retention_hours", shortened.Json["detail"]![0]!["loc"]![1]!.GetValue<string>());

        var purge = await Internal(HttpMethod.Post, "/api/internal/cleanup/purge");
        Assert.Equal(HttpStatusCode.OK, purge.Status);
        Assert.True(purge.Json["outbox_purged"]!.GetValue<long>() >= 0); // the timer here may have purged ids[0] first
        Assert.Null(await StatusAsync(ids[0]));                       // past NOETL_OUTBOX_RETENTION_SECONDS (30 days)
        Assert.Equal("PUBLISHED", await StatusAsync(ids[1]));         // within it
        Assert.Equal("DEAD", await StatusAsync(ids[2]));              // dead letters wait for an operator
        await AdminAsync("DELETE FROM noetl.outbox WHERE outbox_id = ANY($1)", ids[1..]);
    }

    [Fact]
    public async Task The_retention_purge_deletes_old_published_rows_and_keeps_everything_else()
    {
        var old = await InsertRowsAsync(Random.Shared.NextInt64(1, long.MaxValue), 3, status: "PUBLISHED");
        var recent = await InsertRowsAsync(Random.Shared.NextInt64(1, long.MaxValue), 1, status: "PUBLISHED");
        var pending = await InsertRowsAsync(Random.Shared.NextInt64(1, long.MaxValue), 1);
        var failed = await InsertRowsAsync(Random.Shared.NextInt64(1, long.MaxValue), 1, status: "FAILED");
        var inFlight = await InsertRowsAsync(Random.Shared.NextInt64(1, long.MaxValue), 1, status: "IN_FLIGHT");
        var dead = await InsertRowsAsync(Random.Shared.NextInt64(1, long.MaxValue), 1, status: "DEAD");
        await AdminAsync("UPDATE noetl.outbox SET published_at = now() - interval '31 days' WHERE outbox_id = ANY($1)", old);
        await AdminAsync("UPDATE noetl.outbox SET published_at = now() - interval '29 days' WHERE outbox_id = ANY($1)", recent);
        // Unfinished rows, however old, are never purged (and stay unclaimable here: not due, or held).
        long[] unfinished = [.. pending, .. failed, .. inFlight, .. dead];
        await AdminAsync(
            """
            UPDATE noetl.outbox SET created_at = now() - interval '60 days', updated_at = now() - interval '60 days',
                   available_at = now() + interval '1 hour', locked_at = CASE WHEN status = 'IN_FLIGHT' THEN now() END
             WHERE outbox_id = ANY($1)
            """, unfinished);

        // No purge call: the outbox grain's timer (every second here) does it. A call activates the grain.
        Assert.Equal(HttpStatusCode.OK, (await Internal(HttpMethod.Get, "/api/internal/outbox/pending-count")).Status);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await CountAsync(old) > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(200);

        Assert.Equal(0, await CountAsync(old));
        Assert.Equal("PUBLISHED", await StatusAsync(recent[0])); // younger than the retention
        Assert.Equal("PENDING", await StatusAsync(pending[0]));
        Assert.Equal("FAILED", await StatusAsync(failed[0]));
        Assert.Equal("IN_FLIGHT", await StatusAsync(inFlight[0]));
        Assert.Equal("DEAD", await StatusAsync(dead[0]));
        await AdminAsync("DELETE FROM noetl.outbox WHERE outbox_id = ANY($1)", [.. recent, .. unfinished]);
    }

    [Fact]
    public async Task A_claim_behind_a_long_published_history_returns_the_claimable_rows_in_order()
    {
        // 20,000 published rows of 2,000 executions come first in outbox_id order, as on a server that ran a while.
        var history = await InsertHistoryAsync(Random.Shared.NextInt64(1, long.MaxValue / 2), executions: 2000, rows: 20_000);
        var d = await InsertRowsAsync(Random.Shared.NextInt64(1, long.MaxValue), 2);
        var a = await InsertRowsAsync(Random.Shared.NextInt64(1, long.MaxValue), 3);
        var b = await InsertRowsAsync(Random.Shared.NextInt64(1, long.MaxValue), 2);
        var c = await InsertRowsAsync(Random.Shared.NextInt64(1, long.MaxValue), 2);
        // D's first row was claimed by a publisher that vanished (past the 30 s visibility timeout): claimable again.
        await AdminAsync("UPDATE noetl.outbox SET status = 'IN_FLIGHT', attempts = 1, locked_at = now() - interval '1 hour' WHERE outbox_id = ANY($1)", [d[0]]);
        // C's first row waits for its retry (its second row is claimable all the same).
        await AdminAsync("UPDATE noetl.outbox SET status = 'FAILED', attempts = 1, available_at = now() + interval '1 hour' WHERE outbox_id = ANY($1)", [c[0]]);

        // The expired row comes back alone (a row a vanished publisher abandoned never shares a claim: it may be the
        // poison that killed it), as its second attempt.
        var first = await Internal(HttpMethod.Post, "/api/internal/outbox/claim", new { limit = 3 });
        var row = Assert.Single(first.Json["rows"]!.AsArray())!;
        Assert.Equal((d[0], 2), (row["outbox_id"]!.GetValue<long>(), row["attempts"]!.GetValue<int>()));
        // Then the due rows in outbox_id order, across the limit: D's second row beside its first (in flight), A, B,
        // and C's second row beside its failed first.
        Assert.Equal([d[1], a[0], a[1]], await ClaimAsync(limit: 3));
        Assert.Equal([a[2], .. b, c[1]], await ClaimAsync(limit: 100));
        Assert.Empty(await ClaimAsync(limit: 100));

        await AdminAsync("DELETE FROM noetl.outbox WHERE outbox_id = ANY($1)", [.. history, .. d, .. a, .. b, .. c]);
    }

    private async Task<List<long>> ClaimAsync(int limit)
    {
        var response = await Internal(HttpMethod.Post, "/api/internal/outbox/claim", new { limit });
        Assert.Equal(HttpStatusCode.OK, response.Status);
        return response.Json["rows"]!.AsArray().Select(r => r!["outbox_id"]!.GetValue<long>()).ToList();
    }

    private async Task<List<long>> InsertRowsAsync(long executionId, int count, string status = "PENDING")
    {
        await using var connection = new NpgsqlConnection(System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO noetl.outbox (execution_id, event_id, subject, payload, status, published_at)
            SELECT $1, $1 % 1000000000 * 100 + n, 'noetl.commands.shared.' || $1, jsonb_build_object('n', n), $3,
                   CASE WHEN $3 = 'PUBLISHED' THEN now() END
              FROM generate_series(1, $2) AS n
            RETURNING outbox_id
            """, connection);
        command.Parameters.AddWithValue(executionId);
        command.Parameters.AddWithValue(count);
        command.Parameters.AddWithValue(status);
        var ids = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            ids.Add(reader.GetInt64(0));
        return [.. ids.Order()];
    }

    private async Task<string?> StatusAsync(long outboxId)
    {
        await using var connection = new NpgsqlConnection(System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT status FROM noetl.outbox WHERE outbox_id = $1", connection);
        command.Parameters.AddWithValue(outboxId);
        return (string?)await command.ExecuteScalarAsync();
    }

    private async Task AdminAsync(string sql, long outboxId)
    {
        await using var connection = new NpgsqlConnection(System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue(outboxId);
        await command.ExecuteNonQueryAsync();
    }

    private async Task AdminAsync(string sql, IReadOnlyList<long> outboxIds)
    {
        await using var connection = new NpgsqlConnection(System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue(outboxIds.ToArray());
        await command.ExecuteNonQueryAsync();
    }

    private async Task<long> CountAsync(IReadOnlyList<long> outboxIds)
    {
        await using var connection = new NpgsqlConnection(System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM noetl.outbox WHERE outbox_id = ANY($1)", connection);
        command.Parameters.AddWithValue(outboxIds.ToArray());
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Published rows (published now, so within the retention) of consecutive execution ids.</summary>
    private async Task<long[]> InsertHistoryAsync(long firstExecutionId, int executions, int rows)
    {
        await using var connection = new NpgsqlConnection(System.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO noetl.outbox (execution_id, event_id, subject, payload, status, attempts, locked_at, published_at)
            SELECT $1 + n % $2, n, 'noetl.commands.shared.' || ($1 + n % $2), jsonb_build_object('n', n), 'PUBLISHED', 1, now(), now()
              FROM generate_series(1, $3) AS n
            RETURNING outbox_id
            """, connection);
        command.Parameters.AddWithValue(firstExecutionId);
        command.Parameters.AddWithValue((long)executions);
        command.Parameters.AddWithValue(rows);
        var ids = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            ids.Add(reader.GetInt64(0));
        return [.. ids];
    }
}
