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

[Alias("noetl.IMaintenanceGrain")]
public interface IMaintenanceGrain : IGrainWithIntegerKey
{
    [Alias("Purge")] Task<Reply> Purge(PurgeRequest request);
}
