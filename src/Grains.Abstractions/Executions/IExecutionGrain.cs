namespace NoEtl.Grains;

/// <summary>
/// One execution, keyed by <c>execution_id</c>: the single writer of its events, command rows,
/// execution projection and outbox rows. Its state lives in memory and is rebuilt from <c>noetl.event</c>.
/// </summary>
[Alias("noetl.IExecutionGrain")]
public interface IExecutionGrain : IGrainWithIntegerKey
{
    [Alias("Start")] Task<Reply> Start(StartExecution request, long catalogId, string path, int version);

    [Alias("Claim")] Task<Reply> Claim(long eventId, string workerId, string? localityJson);

    [Alias("GetCommand")] Task<Reply> GetCommand(long eventId);

    [Alias("Append")] Task<Reply> Append(WorkerEvent workerEvent);

    [Alias("AppendBatch")] Task<Reply> AppendBatch(IReadOnlyList<WorkerEvent> events, string? workerId, string? idempotencyKey);

    /// <summary>Inserts already-formed envelopes (the internal projection path); returns how many were new.</summary>
    [Alias("Project")] Task<int> Project(string envelopesJson);

    [Alias("Status")] Task<Reply> Status();

    /// <summary>Nothing but the activation: it rebuilds the execution and resumes its reaper (<c>OrphanedCommandWatch</c>).</summary>
    [Alias("Wake")] Task Wake();

    /// <summary>The final step's result of a completed execution (JSON text, redacted), or null.</summary>
    [Alias("FinalResult")] Task<string?> FinalResult();

    [Alias("CancellationCheck")] Task<Reply> CancellationCheck();

    [Alias("Cancel")] Task<Reply> Cancel(string reason, bool cascade);

    /// <summary>Stores a result too large to inline in an event (<c>PUT /api/result</c>); workers of the execution's pool only.</summary>
    [Alias("StoreResult")] Task<Reply> StoreResult(ResultInput input);

    /// <summary>A stored result, redacted: the newest of that <paramref name="name"/>, or the one of that <paramref name="reference"/>.</summary>
    [Alias("ReadResult")] Task<Reply> ReadResult(string? name, string? reference);

    /// <summary>A credential was read for this execution: its values must be scrubbed from results stored from now on.</summary>
    [Alias("SecretsIssued"), Orleans.Concurrency.OneWay] Task SecretsIssued();
}
