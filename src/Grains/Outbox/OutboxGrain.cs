using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Npgsql;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Persistence;
using Orleans.Concurrency;

namespace NoEtl.Grains.Outbox;

/// <summary>
/// The singleton in front of <c>noetl.outbox</c>. A claim is one SKIP LOCKED statement, so several publishers
/// get disjoint rows. Reentrant because a long-poll parks inside <see cref="Claim"/> until an execution grain
/// signals committed rows (or the wait ends); the grain keeps no other state.
/// Per-execution order: rows of one execution are handed out in <c>outbox_id</c> order, and a row is never handed
/// out while an earlier row of its execution is held by another publisher (IN_FLIGHT within the visibility
/// timeout) or waits for its retry (FAILED, not yet due; PENDING rows are due from the moment they are written, as only
/// a failed publish moves <c>available_at</c> ahead). DEAD rows do not block later ones: the execution's
/// reaper notifies again anyway. Within one claim a publisher gets them in that order too.
/// Retention: a grain timer deletes PUBLISHED rows older than <see cref="ServerOptions.OutboxRetentionSeconds"/>
/// in batches, so the table holds the backlog plus a bounded history.
/// </summary>
[Reentrant]
public sealed partial class OutboxGrain(NpgsqlDataSource database, ServerOptions options, ILogger<OutboxGrain> logger) : Grain, IOutboxGrain
{
    /// <summary>Rows one purge statement deletes; a purge repeats it while batches come back full.</summary>
    public const int PurgeBatchSize = 5000;

    private TaskCompletionSource _rowsCommitted = NewSignal();

    // Claims run one at a time: two concurrent SKIP LOCKED claims could each take a different row of the same
    // execution (the first one's earlier row locked, hence invisible, to the second) and break publish order.
    private readonly SemaphoreSlim _claimGate = new(1, 1);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (options.OutboxPurgeIntervalSeconds > 0)
        {
            // Not KeepAlive: an idle outbox has nothing new to purge, and the next activation resumes the purges.
            // Interleave: a long purge never holds a claim back (purges touch PUBLISHED rows only, claims never do).
            var period = TimeSpan.FromSeconds(options.OutboxPurgeIntervalSeconds);
            this.RegisterGrainTimer(PurgePublishedAsync, new GrainTimerCreationOptions(period, period) { Interleave = true });
        }
        return Task.CompletedTask;
    }

    public async Task<Reply> Claim(int limit, int waitMs, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(Math.Clamp(waitMs, 0, options.OutboxMaxWaitMs));
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Take the signal before querying, so rows committed while the query runs still wake us.
            var signal = _rowsCommitted.Task;
            var reply = await DatabaseCall.Run(() => ClaimSerializedAsync(limit, cancellationToken));
            var remaining = deadline - DateTime.UtcNow;
            if (reply.Status != ReplyStatus.Ok || remaining <= TimeSpan.Zero || JsonNode.Parse(reply.Body)!["claimed"]!.GetValue<int>() > 0)
                return reply;
            // Wake up on a commit, or at the latest when an IN_FLIGHT row could have expired or a FAILED row become due.
            await Task.WhenAny(signal, Task.Delay(Min(remaining, TimeSpan.FromMilliseconds(options.OutboxRepollMs)), cancellationToken));
        }
    }

    public Task RowsCommitted()
    {
        var signal = Interlocked.Exchange(ref _rowsCommitted, NewSignal());
        signal.TrySetResult();
        return Task.CompletedTask;
    }

    private async Task<Reply> ClaimSerializedAsync(int limit, CancellationToken cancellationToken)
    {
        await _claimGate.WaitAsync(cancellationToken);
        try { return await ClaimOnce(limit); }
        finally { _claimGate.Release(); }
    }

    /// <summary>
    /// No earlier row of the row's execution is held by a publisher or waiting for its retry. A scalar subquery, not
    /// NOT EXISTS: PostgreSQL runs it per candidate row with both keys of <c>idx_outbox_held</c> bound, whereas an anti
    /// join planned on statistics from before a burst of inserts rescans the index for every candidate.
    /// </summary>
    private const string NoEarlierRowHeld =
        """
        NOT COALESCE((
            SELECT true FROM noetl.outbox e
             WHERE e.execution_id = o.execution_id AND e.outbox_id < o.outbox_id
               AND e.status IN ('IN_FLIGHT', 'FAILED')
               AND CASE WHEN e.status = 'IN_FLIGHT' THEN e.locked_at >= now() - make_interval(secs => $2)
                        ELSE e.available_at > now() END
             LIMIT 1), false)
        """;

    private async Task<Reply> ClaimOnce(int limit)
    {
        // Two arms, each driven by its own partial index (migration 0005), so the published history is never read:
        // due PENDING/FAILED rows walked in outbox_id order (idx_outbox_claimable), and IN_FLIGHT rows whose claimer
        // vanished, past the visibility timeout (idx_outbox_in_flight). Either arm skips a row while an earlier row
        // of the same execution is not claimable now (see the class comment). The first n of both arms' first n
        // rows are the first n claimable rows, so merging them keeps the one-statement claim's outbox_id order.
        // An expired row that already had its last attempt goes DEAD instead: a poison row that kills every publisher
        // before it can mark-failed would otherwise be reclaimed forever, each visibility timeout counting as an attempt.
        // Disjoint from the expired arm (attempts below the cap), so the statement never touches a row twice.
        await using var command = database.CreateCommand(
            $"""
            WITH abandoned AS (
                UPDATE noetl.outbox o
                   SET status = 'DEAD', locked_at = NULL, updated_at = now(),
                       last_error = left('visibility timeout: no publisher reported attempt ' || o.attempts
                                         || COALESCE('; last error: ' || o.last_error, ''), 2000)
                 WHERE o.outbox_id IN (
                       SELECT outbox_id FROM noetl.outbox
                        WHERE status = 'IN_FLIGHT' AND locked_at < now() - make_interval(secs => $2) AND attempts >= $3
                          FOR UPDATE SKIP LOCKED)
                RETURNING o.outbox_id, o.execution_id, o.attempts),
            due AS (
                SELECT o.outbox_id FROM noetl.outbox o
                 WHERE o.status IN ('PENDING', 'FAILED') AND o.available_at <= now()
                   AND {NoEarlierRowHeld}
                 ORDER BY o.outbox_id
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED),
            expired AS (
                SELECT o.outbox_id FROM noetl.outbox o
                 WHERE o.status = 'IN_FLIGHT' AND o.locked_at < now() - make_interval(secs => $2) AND o.attempts < $3
                   AND {NoEarlierRowHeld}
                 ORDER BY o.outbox_id
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED),
            picked AS (
                SELECT outbox_id FROM due
                UNION ALL
                SELECT outbox_id FROM expired
                 ORDER BY outbox_id
                 LIMIT $1),
            claimed AS (
                UPDATE noetl.outbox o
                   SET status = 'IN_FLIGHT', attempts = o.attempts + 1, locked_at = now(), updated_at = now()
                  FROM picked WHERE o.outbox_id = picked.outbox_id
                RETURNING o.outbox_id, o.event_id, o.execution_id, o.subject, o.payload::text AS payload, o.payload_codec, o.attempts)
            SELECT false, outbox_id, event_id, execution_id, subject, payload, payload_codec, attempts FROM claimed
            UNION ALL
            SELECT true, outbox_id, NULL, execution_id, NULL, NULL, NULL, attempts FROM abandoned
            """);
        command.Parameters.AddWithValue(limit);
        command.Parameters.AddWithValue((double)options.OutboxVisibilityTimeoutSeconds);
        command.Parameters.AddWithValue(options.OutboxMaxAttempts);
        var rows = new List<JsonObject>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                long? executionId = reader.IsDBNull(3) ? null : reader.GetInt64(3);
                if (reader.GetBoolean(0))
                {
                    LogAbandonedRowDead(reader.GetInt64(1), executionId, reader.GetInt32(7));
                    continue;
                }
                rows.Add(new JsonObject
                {
                    ["outbox_id"] = reader.GetInt64(1),
                    ["event_id"] = reader.GetInt64(2),
                    ["execution_id"] = executionId,
                    ["subject"] = reader.IsDBNull(4) ? null : reader.GetString(4),
                    ["payload"] = JsonNode.Parse(reader.GetString(5)),
                    ["payload_codec"] = reader.GetString(6),
                    ["attempts"] = reader.GetInt32(7),
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
        // The row's own attempt count (claims so far) decides, not the publisher's echo of it: a poison row must
        // stop cycling even when publishers report stale counts.
        await using var command = database.CreateCommand(
            """
            UPDATE noetl.outbox
               SET status = CASE WHEN attempts >= $4 THEN 'DEAD' ELSE 'FAILED' END,
                   available_at = now() + make_interval(secs => $2), last_error = left($3, 2000), updated_at = now()
             WHERE outbox_id = $1
            RETURNING status
            """);
        command.Parameters.AddWithValue(outboxId);
        command.Parameters.AddWithValue((double)delay);
        command.Parameters.AddWithValue(error);
        command.Parameters.AddWithValue(options.OutboxMaxAttempts);
        var status = (string?)await command.ExecuteScalarAsync();
        return status switch
        {
            null => JsonReplies.NotFound($"outbox row not found: {outboxId}"),
            "DEAD" => JsonReplies.Ok(new JsonObject { ["marked"] = true, ["dead"] = true }),
            _ => JsonReplies.Ok(new JsonObject { ["marked"] = true, ["dead"] = false, ["available_at_in"] = delay }),
        };
    });

    public Task<Reply> DeadLetters(int limit, long afterId) => DatabaseCall.Run(async () =>
    {
        await using var command = database.CreateCommand(
            """
            SELECT outbox_id, event_id, execution_id, subject, attempts, last_error, created_at, updated_at
              FROM noetl.outbox
             WHERE status = 'DEAD' AND outbox_id > $2
             ORDER BY outbox_id
             LIMIT $1
            """);
        command.Parameters.AddWithValue(limit);
        command.Parameters.AddWithValue(afterId);
        var rows = new JsonArray();
        long? last = null;
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                last = reader.GetInt64(0);
                rows.Add(new JsonObject
                {
                    ["outbox_id"] = last,
                    ["event_id"] = reader.GetInt64(1),
                    ["execution_id"] = reader.IsDBNull(2) ? null : reader.GetInt64(2),
                    ["subject"] = reader.IsDBNull(3) ? null : reader.GetString(3),
                    ["attempts"] = reader.GetInt32(4),
                    ["last_error"] = reader.IsDBNull(5) ? null : reader.GetString(5),
                    ["created_at"] = reader.GetDateTime(6).ToString("O"),
                    ["updated_at"] = reader.GetDateTime(7).ToString("O"),
                });
            }
        }
        return JsonReplies.Ok(new JsonObject
        {
            ["items"] = rows,
            // A full page may have more behind it: pass next_after_id back as after_id.
            ["next_after_id"] = rows.Count == limit ? last : null,
        });
    });

    public Task<Reply> Requeue(IReadOnlyList<long> outboxIds, bool all) => DatabaseCall.Run(async () =>
    {
        await using var command = database.CreateCommand(
            """
            UPDATE noetl.outbox
               SET status = 'PENDING', attempts = 0, available_at = now(), locked_at = NULL, updated_at = now()
             WHERE status = 'DEAD' AND ($1 OR outbox_id = ANY($2))
            """);
        command.Parameters.AddWithValue(all);
        command.Parameters.AddWithValue(outboxIds.ToArray());
        var requeued = await command.ExecuteNonQueryAsync();
        if (requeued > 0)
            await RowsCommitted();
        return JsonReplies.Ok(new JsonObject { ["requeued"] = requeued });
    });

    public Task<Reply> PendingCount() => DatabaseCall.Run(async () =>
    {
        await using var command = database.CreateCommand(
            "SELECT count(*) FROM noetl.outbox WHERE status IN ('PENDING', 'FAILED') AND available_at <= now()");
        var pending = (long)(await command.ExecuteScalarAsync())!;
        return JsonReplies.Ok(new JsonObject { ["pending"] = pending });
    });

    /// <summary>The purge of <c>POST /api/internal/cleanup/purge</c>: the same retention as the timer's, run now.</summary>
    public Task<long> PurgePublished() => DeletePublishedAsync(CancellationToken.None);

    private async Task PurgePublishedAsync(CancellationToken cancellationToken)
    {
        try
        {
            await DeletePublishedAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The activation is going away; the next one purges.
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            // The next tick tries again; the rows only wait longer.
            LogPurgeFailed(e.Message);
        }
    }

    /// <summary>
    /// Deletes PUBLISHED rows older than <see cref="ServerOptions.OutboxRetentionSeconds"/> (the one outbox
    /// retention), <see cref="PurgeBatchSize"/> rows per statement (each its own short transaction), until a batch
    /// comes back short. Both the pick and the delete go by index (idx_outbox_published, then the primary key); rows
    /// locked elsewhere (a repeated mark-published) wait for the next purge.
    /// </summary>
    private async Task<long> DeletePublishedAsync(CancellationToken cancellationToken)
    {
        var purged = 0L;
        int deleted;
        do
        {
            await using var command = database.CreateCommand(
                """
                DELETE FROM noetl.outbox
                 WHERE outbox_id = ANY (ARRAY(
                       SELECT outbox_id FROM noetl.outbox
                        WHERE status = 'PUBLISHED' AND published_at < now() - make_interval(secs => $1)
                        LIMIT $2
                          FOR UPDATE SKIP LOCKED))
                """);
            command.Parameters.AddWithValue((double)options.OutboxRetentionSeconds);
            command.Parameters.AddWithValue(PurgeBatchSize);
            deleted = await command.ExecuteNonQueryAsync(cancellationToken);
            purged += deleted;
        }
        while (deleted == PurgeBatchSize && !cancellationToken.IsCancellationRequested);
        if (purged > 0)
            LogPurged(purged, options.OutboxRetentionSeconds);
        return purged;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox retention deleted {Rows} published rows older than {RetentionSeconds} s")]
    private partial void LogPurged(long rows, int retentionSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox row {OutboxId} (execution {ExecutionId}) is DEAD: claimed {Attempts} times, never reported by its publisher")]
    private partial void LogAbandonedRowDead(long outboxId, long? executionId, int attempts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox retention purge failed, retrying at the next tick: {Error}")]
    private partial void LogPurgeFailed(string error);

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
