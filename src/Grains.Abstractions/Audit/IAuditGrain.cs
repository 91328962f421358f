using System.Text.Json.Serialization;

namespace NoEtl.Grains;

/// <summary>One audit record: who (principal), what (action, route, resource, execution), and the outcome.</summary>
[GenerateSerializer, Immutable, Alias("noetl.AuditEntry")]
public sealed record AuditEntry(
    [property: Id(0)] string Principal,
    [property: Id(1)] string? Role,
    [property: Id(2)] string Action,
    [property: Id(3)] string? Route,
    [property: Id(4)] string? Resource,
    [property: Id(5)] long? ExecutionId,
    [property: Id(6)] string Outcome,
    [property: Id(7)] string? DetailJson);

/// <summary>Filters of <c>GET /api/audit</c>.</summary>
[GenerateSerializer, Immutable, Alias("noetl.AuditQuery")]
public sealed record AuditQuery(
    [property: Id(0)] string? Principal,
    [property: Id(1)] string? Action,
    [property: Id(2)] long? ExecutionId,
    [property: Id(3)] string? Outcome,
    [property: Id(4)] DateTime? Since,
    [property: Id(5)] int Limit);

/// <summary>One record of <c>GET /api/audit</c>: <c>audit_id</c> a number, <c>execution_id</c> a string id (NoETL's ids).</summary>
[GenerateSerializer, Immutable, Alias("noetl.AuditRecord")]
public sealed record AuditRecord(
    [property: Id(0)] long AuditId,
    [property: Id(1)] string OccurredAt,
    [property: Id(2)] string Principal,
    [property: Id(3)] string? Role,
    [property: Id(4)] string Action,
    [property: Id(5)] string? Route,
    [property: Id(6)] string? Resource,
    [property: Id(7), JsonNumberHandling(JsonNumberHandling.WriteAsString)] long? ExecutionId,
    [property: Id(8)] string Outcome,
    [property: Id(9)] JsonText? Detail);

[GenerateSerializer, Immutable, Alias("noetl.AuditRecords")]
public sealed record AuditRecords([property: Id(0)] IReadOnlyList<AuditRecord> Items)
{
    public int Count => Items.Count;
}

/// <summary>
/// Audit records that have no change of their own to ride with (refused requests, internal-API calls seen by the
/// gateway), and the operators' query.
/// </summary>
[Alias("noetl.IAuditGrain")]
public interface IAuditGrain : IGrainWithIntegerKey
{
    [Alias("Record"), Orleans.Concurrency.OneWay] Task Record(AuditEntry entry);

    /// <summary>Several records at once (the gateway's aggregated refusals of one window).</summary>
    [Alias("RecordBatch")] Task RecordBatch(IReadOnlyList<AuditEntry> entries);

    /// <summary>Unavailable.</summary>
    [Alias("Query")] Task<Outcome<AuditRecords>> Query(AuditQuery query);
}
