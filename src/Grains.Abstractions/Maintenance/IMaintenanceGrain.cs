using System.Text.Json.Serialization;

namespace NoEtl.Grains;

/// <summary>
/// Retention settings of <c>POST /api/internal/cleanup/purge</c> (NoETL RS-HEAD semantics). The outbox has one
/// retention, the server's <c>NOETL_OUTBOX_RETENTION_SECONDS</c>, which the purge applies through the outbox grain.
/// </summary>
[GenerateSerializer, Immutable, Alias("noetl.PurgeRequest")]
public sealed record PurgeRequest(
    [property: Id(0)] int CommandRetentionDays,
    [property: Id(1)] int RuntimeStaleMinutes,
    [property: Id(2)] int EventRetentionDays,
    [property: Id(4)] int AuditRetentionDays,
    [property: Id(5)] int ExecutionRequestRetentionDays);

/// <summary>What a purge deleted, per table (<c>event_partitions_dropped</c> is NoETL's; <c>noetl.event</c> is not partitioned here).</summary>
[GenerateSerializer, Immutable, Alias("noetl.PurgeReport")]
public sealed record PurgeReport(
    [property: Id(0)] int CommandsPurged,
    [property: Id(1)] int RuntimePurged,
    [property: Id(2)] long OutboxPurged,
    [property: Id(3)] int AuditPurged,
    [property: Id(4)] int ResultsPurged,
    [property: Id(5)] int IdempotencyKeysPurged,
    [property: Id(6)] int EventsPurged)
{
    [JsonPropertyOrder(1)] public IReadOnlyList<string> EventPartitionsDropped => [];
}

[Alias("noetl.IMaintenanceGrain")]
public interface IMaintenanceGrain : IGrainWithIntegerKey
{
    /// <remarks>Unavailable.</remarks>
    [Alias("Purge")] Task<Outcome<PurgeReport>> Purge(PurgeRequest request);
}
