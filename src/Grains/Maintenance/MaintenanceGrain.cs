using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Grains.Persistence;
using Orleans.Concurrency;

namespace NoEtl.Grains.Maintenance;

/// <summary>
/// Retention, as the system pool's <c>system/scheduled_cleanup</c> playbook asks for it. Only rows of finished
/// work are deleted: completed commands, long-silent worker registrations, published outbox rows, stored results
/// past their <c>expires_at</c>, and (opt-in) the events of executions that ended before the cutoff.
/// </summary>
[StatelessWorker]
public sealed class MaintenanceGrain(NpgsqlDataSource database) : Grain, IMaintenanceGrain
{
    public Task<Reply> Purge(PurgeRequest request) => DatabaseCall.Run(async () =>
    {
        await using var batch = database.CreateBatch();
        batch.BatchCommands.Add(Command(
            "DELETE FROM noetl.command WHERE completed_at IS NOT NULL AND completed_at < now() - make_interval(days => $1)",
            request.CommandRetentionDays));
        batch.BatchCommands.Add(Command(
            "DELETE FROM noetl.runtime WHERE kind = 'worker_pool' AND heartbeat < now() - make_interval(mins => $1)",
            request.RuntimeStaleMinutes));
        batch.BatchCommands.Add(Command(
            "DELETE FROM noetl.outbox WHERE status = 'PUBLISHED' AND published_at < now() - make_interval(hours => $1)",
            request.OutboxRetentionHours));
        batch.BatchCommands.Add(Command(
            "DELETE FROM noetl.audit WHERE occurred_at < now() - make_interval(days => $1)",
            request.AuditRetentionDays));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("DELETE FROM noetl.result_store WHERE expires_at <= now()"));
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
        var counts = batch.BatchCommands.Cast<NpgsqlBatchCommand>().Select(c => c.RecordsAffected).ToList();
        return JsonReplies.Ok(new JsonObject
        {
            ["commands_purged"] = counts[0],
            ["runtime_purged"] = counts[1],
            ["outbox_purged"] = counts[2],
            ["audit_purged"] = counts[3],
            ["results_purged"] = counts[4],
            ["events_purged"] = request.EventRetentionDays > 0 ? counts[5] : 0,
            ["event_partitions_dropped"] = new JsonArray(), // noetl.event is not partitioned here
        });
    });

    private static NpgsqlBatchCommand Command(string sql, int value) => new(sql) { Parameters = { new() { Value = value } } };
}
