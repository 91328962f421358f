using Npgsql;
using NpgsqlTypes;
using NoEtl.Grains.Executions;
using NoEtl.Grains.Persistence;
using Orleans.Concurrency;

namespace NoEtl.Grains.Audit;

[StatelessWorker]
public sealed class AuditGrain(NpgsqlDataSource database, TurnWriter writer) : Grain, IAuditGrain
{
    public Task Record(AuditEntry entry) => writer.RecordAsync(entry);

    public Task RecordBatch(IReadOnlyList<AuditEntry> entries) => writer.RecordAsync(entries);

    public Task<Outcome<AuditRecords>> Query(AuditQuery query) => DatabaseCall.Run<AuditRecords>(async () =>
    {
        await using var command = database.CreateCommand(
            """
            SELECT audit_id, occurred_at, principal, role, action, route, resource, execution_id, outcome, detail::text
              FROM noetl.audit
             WHERE ($1::text IS NULL OR principal = $1) AND ($2::text IS NULL OR action = $2)
               AND ($3::bigint IS NULL OR execution_id = $3) AND ($4::text IS NULL OR outcome = $4)
               AND ($5::timestamptz IS NULL OR occurred_at >= $5)
             ORDER BY audit_id DESC LIMIT $6
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)query.Principal ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)query.Action ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)query.ExecutionId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)query.Outcome ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter
        {
            Value = query.Since is { } since ? DateTime.SpecifyKind(since, DateTimeKind.Utc) : DBNull.Value,
            NpgsqlDbType = NpgsqlDbType.TimestampTz,
        });
        command.Parameters.AddWithValue(query.Limit);
        var items = new List<AuditRecord>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            items.Add(new AuditRecord(
                reader.GetInt64(0),
                reader.GetDateTime(1).ToString("O"),
                reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetInt64(7),
                reader.GetString(8),
                JsonText.From(reader.IsDBNull(9) ? null : reader.GetString(9))));
        }
        return new AuditRecords(items);
    });
}
