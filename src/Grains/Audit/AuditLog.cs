using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;

namespace NoEtl.Grains.Audit;

/// <summary>
/// Builds <c>noetl.audit</c> inserts to add to the batch of the change they describe, so the record and the
/// change commit together (or neither does).
/// </summary>
public static class AuditLog
{
    public static NpgsqlBatchCommand Insert(string action, string outcome, string? resource = null, long? executionId = null, JsonObject? detail = null) =>
        Insert(Entry(action, outcome, resource, executionId, detail));

    public static NpgsqlBatchCommand Insert(AuditEntry entry) => new(
        """
        INSERT INTO noetl.audit (principal, role, action, route, resource, execution_id, outcome, detail)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
        """)
    {
        Parameters =
        {
            new() { Value = entry.Principal },
            new() { Value = (object?)entry.Role ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text },
            new() { Value = entry.Action },
            new() { Value = (object?)entry.Route ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text },
            new() { Value = (object?)entry.Resource ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text },
            new() { Value = (object?)entry.ExecutionId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint },
            new() { Value = entry.Outcome },
            new() { Value = (object?)entry.DetailJson ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text },
        },
    };

    /// <summary>An entry for the current caller (see <see cref="Caller.Current"/>).</summary>
    public static AuditEntry Entry(string action, string outcome, string? resource = null, long? executionId = null, JsonObject? detail = null)
    {
        var caller = Caller.Current;
        return new AuditEntry(caller.Principal, caller.Role, action, caller.Route, resource, executionId, outcome, detail?.ToJsonString());
    }

    /// <summary>For changes without a batch of their own: one statement, one transaction.</summary>
    public static async Task WriteAsync(NpgsqlDataSource database, AuditEntry entry)
    {
        await using var batch = database.CreateBatch();
        batch.BatchCommands.Add(Insert(entry));
        await batch.ExecuteNonQueryAsync();
    }
}
