using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Persistence;
using Orleans.Concurrency;

namespace NoEtl.Grains.Outbox;

/// <summary>
/// The singleton in front of <c>noetl.outbox</c>. Claims are one SKIP LOCKED statement, so several publishers
/// get disjoint rows. Reentrant because a long-poll parks inside <see cref="Claim"/> until an execution grain
/// signals committed rows (or the wait ends); the grain keeps no other state.
/// </summary>
[Reentrant]
public sealed class OutboxGrain(NpgsqlDataSource database, ServerOptions options) : Grain, IOutboxGrain
{
    private TaskCompletionSource _rowsCommitted = NewSignal();

    public async Task<Reply> Claim(int limit, int waitMs, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(Math.Clamp(waitMs, 0, options.OutboxMaxWaitMs));
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Take the signal before querying, so rows committed while the query runs still wake us.
            var signal = _rowsCommitted.Task;
            var reply = await DatabaseCall.Run(() => ClaimOnce(limit));
            var remaining = deadline - DateTime.UtcNow;
            if (reply.Status != ReplyStatus.Ok || remaining <= TimeSpan.Zero || JsonNode.Parse(reply.Body)!["claimed"]!.GetValue<int>() > 0)
                return reply;
            // Wake up on a commit, or at the latest when an IN_FLIGHT row could have expired or a FAILED row become due.
            await Task.WhenAny(signal, Task.Delay(Min(remaining, TimeSpan.FromSeconds(1)), cancellationToken));
        }
    }

    public Task RowsCommitted()
    {
        var signal = Interlocked.Exchange(ref _rowsCommitted, NewSignal());
        signal.TrySetResult();
        return Task.CompletedTask;
    }

    private async Task<Reply> ClaimOnce(int limit)
    {
        // PENDING/FAILED rows that are due, plus IN_FLIGHT rows whose claimer vanished (visibility timeout).
        await using var command = database.CreateCommand(
            """
            WITH picked AS (
                SELECT outbox_id FROM noetl.outbox
                 WHERE (status IN ('PENDING', 'FAILED') AND available_at <= now())
                    OR (status = 'IN_FLIGHT' AND locked_at < now() - make_interval(secs => $2))
                 ORDER BY outbox_id
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED)
            UPDATE noetl.outbox o
               SET status = 'IN_FLIGHT', attempts = o.attempts + 1, locked_at = now(), updated_at = now()
              FROM picked WHERE o.outbox_id = picked.outbox_id
            RETURNING o.outbox_id, o.event_id, o.execution_id, o.subject, o.payload::text, o.payload_codec, o.attempts
            """);
        command.Parameters.AddWithValue(limit);
        command.Parameters.AddWithValue((double)options.OutboxVisibilityTimeoutSeconds);
        var rows = new List<JsonObject>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add(new JsonObject
                {
                    ["outbox_id"] = reader.GetInt64(0),
                    ["event_id"] = reader.GetInt64(1),
                    ["execution_id"] = reader.IsDBNull(2) ? null : reader.GetInt64(2),
                    ["subject"] = reader.IsDBNull(3) ? null : reader.GetString(3),
                    ["payload"] = JsonNode.Parse(reader.GetString(4)),
                    ["payload_codec"] = reader.GetString(5),
                    ["attempts"] = reader.GetInt32(6),
                });
            }
        }
        var array = new JsonArray();
        foreach (var row in rows.OrderBy(r => r["outbox_id"]!.GetValue<long>()))
            array.Add(row);
        return JsonReplies.Ok(new JsonObject { ["rows"] = array, ["claimed"] = rows.Count });
    }

    public Task<Reply> MarkPublished(IReadOnlyList<long> outboxIds) => DatabaseCall.Run(async () =>
    {
        await using var command = database.CreateCommand(
            "UPDATE noetl.outbox SET status = 'PUBLISHED', published_at = now(), updated_at = now(), last_error = NULL WHERE outbox_id = ANY($1)");
        command.Parameters.AddWithValue(outboxIds.ToArray());
        var marked = await command.ExecuteNonQueryAsync();
        return JsonReplies.Ok(new JsonObject { ["marked"] = marked });
    });

    public Task<Reply> MarkFailed(long outboxId, string error, int attempts, int maxDelaySeconds) => DatabaseCall.Run(async () =>
    {
        var delay = Math.Min(maxDelaySeconds, 1 << Math.Min(8, Math.Max(0, attempts - 1)));
        await using var command = database.CreateCommand(
            """
            UPDATE noetl.outbox
               SET status = 'FAILED', available_at = now() + make_interval(secs => $2), last_error = left($3, 2000), updated_at = now()
             WHERE outbox_id = $1
            """);
        command.Parameters.AddWithValue(outboxId);
        command.Parameters.AddWithValue((double)delay);
        command.Parameters.AddWithValue(error);
        var marked = await command.ExecuteNonQueryAsync();
        return marked == 0
            ? JsonReplies.NotFound($"outbox row not found: {outboxId}")
            : JsonReplies.Ok(new JsonObject { ["marked"] = true, ["available_at_in"] = delay });
    });

    public Task<Reply> PendingCount() => DatabaseCall.Run(async () =>
    {
        await using var command = database.CreateCommand(
            "SELECT count(*) FROM noetl.outbox WHERE status IN ('PENDING', 'FAILED') AND available_at <= now()");
        var pending = (long)(await command.ExecuteScalarAsync())!;
        return JsonReplies.Ok(new JsonObject { ["pending"] = pending });
    });

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
