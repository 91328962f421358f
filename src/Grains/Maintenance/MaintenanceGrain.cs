using Npgsql;
using NoEtl.Grains.Persistence;
using Orleans.Concurrency;

namespace NoEtl.Grains.Maintenance;

/// <summary>
/// Retention, as the system pool's <c>system/scheduled_cleanup</c> playbook asks for it. Only rows of finished
/// work are deleted: finished commands (completed, failed or cancelled), long-silent worker registrations, published
/// outbox rows (through the outbox grain, by its retention), stored results past their <c>expires_at</c>, the idempotency keys of executions that ended before the
/// cutoff, and (opt-in) their events.
/// </summary>
[StatelessWorker]
public sealed class MaintenanceGrain(NpgsqlDataSource database) : Grain, IMaintenanceGrain
{
    public Task<Outcome<PurgeReport>> Purge(PurgeRequest request) => DatabaseCall.Run<PurgeReport>(async () =>
    {
        await using var batch = database.CreateBatch();
        // Commands left open by an execution that ended without closing them (cancelled before cancels closed them) go too.
        // Each arm reads its own index (idx_command_completed; idx_execution_ended, then idx_command_exec_open): one
        // WHERE with an OR of both read the whole table.
        batch.BatchCommands.Add(Command(
            """
            DELETE FROM noetl.command c
             WHERE (c.execution_id, c.command_id) IN (
                   SELECT execution_id, command_id FROM noetl.command WHERE completed_at < now() - make_interval(days => $1)
                   UNION
                   SELECT o.execution_id, o.command_id
                     FROM noetl.execution x JOIN noetl.command o ON o.execution_id = x.execution_id
                    WHERE x.status IN ('COMPLETED', 'FAILED', 'CANCELLED') AND x.end_time < now() - make_interval(days => $1)
                      AND o.status IN ('PENDING', 'CLAIMED', 'RUNNING'))
            """,
            request.CommandRetentionDays));
        batch.BatchCommands.Add(Command(
            "DELETE FROM noetl.runtime WHERE kind = 'worker_pool' AND heartbeat < now() - make_interval(mins => $1)",
            request.RuntimeStaleMinutes));
        batch.BatchCommands.Add(Command(
            "DELETE FROM noetl.audit WHERE occurred_at < now() - make_interval(days => $1)",
            request.AuditRetentionDays));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("DELETE FROM noetl.result_store WHERE expires_at <= now()"));
        // A retry of a start is answered from its key while the execution runs and for the retention after it ended.
        batch.BatchCommands.Add(Command(
            """
            DELETE FROM noetl.execution_request r USING noetl.execution x
             WHERE r.execution_id = x.execution_id AND x.status IN ('COMPLETED', 'FAILED', 'CANCELLED')
               AND x.end_time < now() - make_interval(days => $1)
            """,
            request.ExecutionRequestRetentionDays));
        if (request.EventRetentionDays > 0)
        {
            batch.BatchCommands.Add(Command(
                """
                DELETE FROM noetl.event e USING noetl.execution x
                 WHERE e.execution_id = x.execution_id AND x.status IN ('COMPLETED', 'FAILED', 'CANCELLED')
                   AND x.end_time < now() - make_interval(days => $1)
                """,
                request.EventRetentionDays));
        }
        await batch.ExecuteNonQueryAsync();
        // The outbox's rows are the outbox grain's to delete, by its own retention.
        var outboxPurged = await GrainFactory.GetGrain<IOutboxGrain>(0).PurgePublished();
        var counts = batch.BatchCommands.Cast<NpgsqlBatchCommand>().Select(c => c.RecordsAffected).ToList();
        return new PurgeReport(counts[0], counts[1], outboxPurged, counts[2], counts[3], counts[4],
            request.EventRetentionDays > 0 ? counts[5] : 0);
    });

    private static NpgsqlBatchCommand Command(string sql, int value) => new(sql) { Parameters = { new() { Value = value } } };
}
