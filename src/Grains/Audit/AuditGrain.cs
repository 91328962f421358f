using System.Text.Json.Nodes;
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

    public Task<Reply> Query(AuditQuery query) => DatabaseCall.Run(async () =>
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
        var items = new JsonArray();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            items.Add(new JsonObject
            {
                ["audit_id"] = reader.GetInt64(0),
                ["occurred_at"] = reader.GetDateTime(1).ToString("O"),
                ["principal"] = reader.GetString(2),
                ["role"] = reader.IsDBNull(3) ? null : reader.GetString(3),
                ["action"] = reader.GetString(4),
                ["route"] = reader.IsDBNull(5) ? null : reader.GetString(5),
                ["resource"] = reader.IsDBNull(6) ? null : reader.GetString(6),
                ["execution_id"] = reader.IsDBNull(7) ? null : reader.GetInt64(7).ToString(),
                ["outcome"] = reader.GetString(8),
                ["detail"] = reader.IsDBNull(9) ? null : JsonNode.Parse(reader.GetString(9)),
            });
        }
        return JsonReplies.Ok(new JsonObject { ["items"] = items, ["count"] = items.Count });
    });
}
