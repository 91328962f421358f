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
/// No order across claims: a claim takes the first due rows in <c>outbox_id</c> order, whatever else of their
/// execution is held or failed, and concurrent claims run side by side (docs/architecture.md, "Outbox order": a
/// notification only says "claim this command", and the claim over HTTP arbitrates).
/// Retention: a grain timer deletes PUBLISHED rows older than <see cref="ServerOptions.OutboxRetentionSeconds"/>
/// in batches, so the table holds the backlog plus a bounded history.
/// </summary>
[Reentrant]
public sealed partial class OutboxGrain(NpgsqlDataSource database, ServerOptions options, ILogger<OutboxGrain> logger) : Grain, IOutboxGrain
{
    /// <summary>Rows one purge statement deletes; a purge repeats it while batches come back full.</summary>
    public const int PurgeBatchSize = 5000;

    private TaskCompletionSource _rowsCommitted = NewSignal();

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

    public async Task<Outcome<OutboxClaim>> Claim(int limit, int waitMs, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(Math.Clamp(waitMs, 0, options.OutboxMaxWaitMs));
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Take the signal before querying, so rows committed while the query runs still wake us.
            var signal = _rowsCommitted.Task;
            var outcome = await DatabaseCall.Run(() => ClaimOnce(limit));
            var remaining = deadline - DateTime.UtcNow;
            if (outcome.Value is not { Claimed: 0 } || remaining <= TimeSpan.Zero)
                return outcome;
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

    private async Task<Outcome<OutboxClaim>> ClaimOnce(int limit)
    {
        // Two arms, each driven by its own partial index (migration 0005), so the published history is never read:
        // due PENDING/FAILED rows walked in outbox_id order (idx_outbox_claimable, NoETL's claim: due rows by
        // outbox_id, locked ones skipped), and IN_FLIGHT rows whose claimer vanished, past the visibility timeout
        // (idx_outbox_in_flight). Each visibility timeout counts as an attempt, so a poison row that kills every
        // publisher before it can mark-failed goes DEAD once it had its last attempt instead of cycling forever. An
        // expired row is handed out alone: the rows a crashed publisher abandoned beside a poison row then get their
        // own claim and are published, instead of sharing the poison row's fate until the cap.
        await using var command = database.CreateCommand(
            """
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
            expired AS (
                SELECT o.outbox_id FROM noetl.outbox o
                 WHERE o.status = 'IN_FLIGHT' AND o.locked_at < now() - make_interval(secs => $2) AND o.attempts < $3
                 ORDER BY o.outbox_id
                 LIMIT 1
                 FOR UPDATE SKIP LOCKED),
            due AS (
                SELECT o.outbox_id FROM noetl.outbox o
                 WHERE o.status IN ('PENDING', 'FAILED') AND o.available_at <= now()
                   AND NOT EXISTS (SELECT 1 FROM expired)
                 ORDER BY o.outbox_id
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED),
            picked AS (
                SELECT outbox_id FROM expired
                UNION ALL
                SELECT outbox_id FROM due),
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
        var rows = new List<ClaimedOutboxRow>();
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
                rows.Add(new ClaimedOutboxRow(reader.GetInt64(1), reader.GetInt64(2), executionId,
                    reader.IsDBNull(4) ? null : reader.GetString(4), new JsonText(reader.GetString(5)), reader.GetString(6), reader.GetInt32(7)));
            }
        }
        return new OutboxClaim([.. rows.OrderBy(row => row.OutboxId)]);
    }

    public Task<Outcome<OutboxMarked>> MarkPublished(IReadOnlyList<long> outboxIds) => DatabaseCall.Run<OutboxMarked>(async () =>
    {
        await using var command = database.CreateCommand(
            "UPDATE noetl.outbox SET status = 'PUBLISHED', published_at = now(), updated_at = now(), last_error = NULL WHERE outbox_id = ANY($1)");
        command.Parameters.AddWithValue(outboxIds.ToArray());
        return new OutboxMarked(await command.ExecuteNonQueryAsync());
    });

    public Task<Outcome<OutboxFailed>> MarkFailed(long outboxId, string error, int attempts, int maxDelaySeconds) => DatabaseCall.Run<OutboxFailed>(async () =>
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
            null => Failure.NotFound($"outbox row not found: {outboxId}"),
            "DEAD" => new OutboxFailed(Dead: true, AvailableAtIn: null),
            _ => new OutboxFailed(Dead: false, AvailableAtIn: delay),
        };
    });

    public Task<Outcome<DeadLetters>> DeadLetters(int limit, long afterId) => DatabaseCall.Run<DeadLetters>(async () =>
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
        var rows = new List<DeadLetter>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add(new DeadLetter(reader.GetInt64(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetInt64(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetInt32(4), reader.IsDBNull(5) ? null : reader.GetString(5),
                    reader.GetDateTime(6).ToString("O"), reader.GetDateTime(7).ToString("O")));
            }
        }
        // A full page may have more behind it.
        return new DeadLetters(rows, rows.Count == limit ? rows[^1].OutboxId : null);
    });

    public Task<Outcome<OutboxRequeued>> Requeue(IReadOnlyList<long> outboxIds, bool all) => DatabaseCall.Run<OutboxRequeued>(async () =>
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
        return new OutboxRequeued(requeued);
    });

    public Task<Outcome<OutboxPending>> PendingCount() => DatabaseCall.Run<OutboxPending>(async () =>
    {
        await using var command = database.CreateCommand(
            "SELECT count(*) FROM noetl.outbox WHERE status IN ('PENDING', 'FAILED') AND available_at <= now()");
        return new OutboxPending((long)(await command.ExecuteScalarAsync())!);
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
