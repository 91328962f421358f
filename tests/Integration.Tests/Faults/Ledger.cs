using Npgsql;

namespace NoEtl.Integration.Tests.Faults;

/// <summary>What the database says about a scenario's executions once it is over.</summary>
public sealed record LedgerResult(int Executions, int Completed, int Lost, int Stuck, int Failed, int Commands, int DuplicatedEffects, int MissingEffects,
    int SupersededReports)
{
    public bool Clean => Lost == 0 && Stuck == 0 && Failed == 0 && DuplicatedEffects == 0 && MissingEffects == 0 && SupersededReports == 0;

    public override string ToString() =>
        $"{Completed}/{Executions} completed, {Lost} lost, {Stuck} stuck, {Failed} failed; {Commands} commands, {DuplicatedEffects} duplicated, " +
        $"{MissingEffects} missing effects, {SupersededReports} call.done from a superseded claim";

    /// <summary>The ledger as a table: each check, what the database says, what it must say.</summary>
    public string Table() => string.Join('\n',
        "| check | found | expected |",
        "|---|---|---|",
        $"| executions COMPLETED | {Completed}/{Executions} | all |",
        $"| lost (never recorded) | {Lost} | 0 |",
        $"| stuck (still running) | {Stuck} | 0 |",
        $"| failed or cancelled | {Failed} | 0 |",
        $"| commands | {Commands} | {Executions} × steps |",
        $"| duplicated effects (call.done twice, a step issued twice) | {DuplicatedEffects} | 0 |",
        $"| missing effects (command without call.done) | {MissingEffects} | 0 |",
        $"| call.done accepted from a superseded claim | {SupersededReports} | 0 |");
}

/// <summary>
/// The end-of-scenario check: every started execution exists and is COMPLETED (else lost or stuck), it has the
/// playbook's number of commands, and each command's effect happened exactly once: one <c>call.done</c> per
/// command id (missing = lost, more = duplicated) and never more than one <c>command.completed</c>. A missing
/// <c>command.completed</c> alone is not a lost effect: a worker killed between <c>call.done</c> (which already
/// advanced the execution) and <c>command.completed</c> leaves it out when the execution finishes before the
/// command is delivered again (the re-delivery's claim then answers 409 already_terminal). A <c>call.done</c> must
/// come from the worker of the command's latest <c>command.claimed</c> before it (a superseded claim's report is
/// refused); a stale activation's writes would show as duplicated effects or steps issued twice.
/// </summary>
public static class Ledger
{
    public static async Task<LedgerResult> CheckAsync(string adminConnectionString, IReadOnlyCollection<long> executions, int commandsPerExecution)
    {
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            WITH started AS (SELECT unnest($1::bigint[]) AS execution_id),
            effects AS (
                SELECT c.execution_id, c.command_id,
                       (SELECT count(*) FROM noetl.event e WHERE e.execution_id = c.execution_id AND e.command_id = c.command_id AND e.event_type = 'call.done') AS done,
                       (SELECT count(*) FROM noetl.event e WHERE e.execution_id = c.execution_id AND e.command_id = c.command_id AND e.event_type = 'command.completed') AS completed
                  FROM noetl.command c JOIN started s ON s.execution_id = c.execution_id)
            SELECT count(*) FILTER (WHERE x.execution_id IS NULL),
                   count(*) FILTER (WHERE x.status = 'COMPLETED'),
                   count(*) FILTER (WHERE x.status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED')),
                   count(*) FILTER (WHERE x.status IN ('FAILED', 'CANCELLED')),
                   (SELECT count(*) FROM effects),
                   (SELECT count(*) FROM effects WHERE done > 1 OR completed > 1),
                   (SELECT count(*) FROM effects WHERE done = 0),
                   (SELECT count(*) FROM (SELECT f.execution_id FROM effects f JOIN noetl.execution d ON d.execution_id = f.execution_id
                                           WHERE d.status = 'COMPLETED' GROUP BY f.execution_id HAVING count(*) <> $2) wrong),
                   (SELECT count(*) FROM noetl.event d JOIN started t ON t.execution_id = d.execution_id
                     WHERE d.event_type = 'call.done'
                       AND d.worker_id IS DISTINCT FROM (SELECT c.worker_id FROM noetl.event c
                                                          WHERE c.execution_id = d.execution_id AND c.command_id = d.command_id
                                                            AND c.event_type = 'command.claimed' AND c.event_id < d.event_id
                                                          ORDER BY c.event_id DESC LIMIT 1))
              FROM started s LEFT JOIN noetl.execution x ON x.execution_id = s.execution_id
            """, connection);
        command.Parameters.AddWithValue(executions.ToArray());
        command.Parameters.AddWithValue((long)commandsPerExecution);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var lost = (int)reader.GetInt64(0);
        var completed = (int)reader.GetInt64(1);
        var stuck = (int)reader.GetInt64(2);
        var failed = (int)reader.GetInt64(3);
        var commands = (int)reader.GetInt64(4);
        var duplicated = (int)reader.GetInt64(5);
        var missing = (int)reader.GetInt64(6);
        var wrongCount = (int)reader.GetInt64(7);
        var superseded = (int)reader.GetInt64(8);
        // A completed execution with more or fewer commands than the playbook's steps issued a step twice or skipped one.
        return new LedgerResult(executions.Count, completed, lost, stuck, failed, commands, duplicated + wrongCount, missing, superseded);
    }

    /// <summary>Completion times of the scenario's commands (the <c>command.completed</c> events), UTC.</summary>
    public static async Task<List<DateTime>> CompletionsAsync(string adminConnectionString, IReadOnlyCollection<long> executions)
    {
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT created_at FROM noetl.event WHERE execution_id = ANY($1) AND event_type = 'command.completed' ORDER BY created_at", connection);
        command.Parameters.AddWithValue(executions.ToArray());
        var times = new List<DateTime>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            times.Add(DateTime.SpecifyKind(reader.GetDateTime(0), DateTimeKind.Utc));
        return times;
    }

    /// <summary>The event types of executions that are not terminal, for the failure message.</summary>
    public static async Task<string> DescribeUnfinishedAsync(string adminConnectionString, IReadOnlyCollection<long> executions)
    {
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT s.id, coalesce(x.status, 'MISSING'),
                   (SELECT string_agg(e.event_type || ':' || coalesce(e.node_name, '') || coalesce(':' || e.worker_id, ''), ', ' ORDER BY e.event_id)
                      FROM noetl.event e WHERE e.execution_id = s.id)
              FROM unnest($1::bigint[]) AS s(id) LEFT JOIN noetl.execution x ON x.execution_id = s.id
             WHERE x.status IS DISTINCT FROM 'COMPLETED'
             LIMIT 10
            """, connection);
        command.Parameters.AddWithValue(executions.ToArray());
        var lines = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            lines.Add($"{reader.GetInt64(0)} {reader.GetString(1)}: {(reader.IsDBNull(2) ? "" : reader.GetString(2))}");
        return string.Join("\n", lines);
    }
}
