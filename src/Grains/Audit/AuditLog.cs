using System.Text.Json.Nodes;
using Npgsql;

namespace NoEtl.Grains.Audit;

/// <summary>
/// Builds <c>noetl.audit</c> inserts to add to the batch of the change they describe, so the record and the
/// change commit together (or neither does). A record without a change of its own goes through
/// <see cref="Executions.TurnWriter.RecordAsync"/>.
/// </summary>
public static class AuditLog
{
    public static NpgsqlBatchCommand Insert(string action, string outcome, string? resource = null, long? executionId = null, JsonObject? detail = null) =>
        Insert(Entry(action, outcome, resource, executionId, detail));

    public static NpgsqlBatchCommand Insert(AuditEntry entry) => Insert([entry]);

    /// <summary>One multi-row insert of <paramref name="entries"/>.</summary>
    public static NpgsqlBatchCommand Insert(IReadOnlyCollection<AuditEntry> entries) => new(
        """
        INSERT INTO noetl.audit (principal, role, action, route, resource, execution_id, outcome, detail)
        SELECT a.principal, a.role, a.action, a.route, a.resource, a.execution_id, a.outcome, a.detail::jsonb
          FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[])
               AS a(principal, role, action, route, resource, execution_id, outcome, detail)
        """)
    {
        Parameters =
        {
            new() { Value = entries.Select(e => e.Principal).ToArray() },
            new() { Value = entries.Select(e => e.Role).ToArray() },
            new() { Value = entries.Select(e => e.Action).ToArray() },
            new() { Value = entries.Select(e => e.Route).ToArray() },
            new() { Value = entries.Select(e => e.Resource).ToArray() },
            new() { Value = entries.Select(e => e.ExecutionId).ToArray() },
            new() { Value = entries.Select(e => e.Outcome).ToArray() },
            new() { Value = entries.Select(e => e.DetailJson).ToArray() },
        },
    };

    /// <summary>An entry for the current caller (see <see cref="Caller.Current"/>).</summary>
    public static AuditEntry Entry(string action, string outcome, string? resource = null, long? executionId = null, JsonObject? detail = null)
    {
        var caller = Caller.Current;
        return new AuditEntry(caller.Principal, caller.Role, action, caller.Route, resource, executionId, outcome, detail?.ToJsonString());
    }
}
