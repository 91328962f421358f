namespace NoEtl.Grains;

/// <summary>
/// One execution, keyed by <c>execution_id</c>: the single writer of its events, command rows,
/// execution projection and outbox rows. Its state lives in memory and is rebuilt from <c>noetl.event</c>.
/// Writes answer Unavailable (<c>db_unavailable</c>, <c>pool_saturated</c>, <c>overloaded</c>, <c>stale_writer</c>) when
/// their turn cannot be committed.
/// </summary>
[Alias("noetl.IExecutionGrain")]
public interface IExecutionGrain : IGrainWithIntegerKey
{
    /// <summary>The execution's first turn; a start under an <c>Idempotency-Key</c> that another start committed answers that one.</summary>
    /// <remarks>
    /// NotFound (the catalog entry); Forbidden (<c>system_playbook</c>: a user pool starting a system playbook); Invalid
    /// (<c>body.workload.{key}</c>: a key the system playbook fixes); Conflict (<c>already_started</c>); Unavailable.
    /// </remarks>
    [Alias("Start")] Task<Outcome<ExecutionStarted>> Start(StartExecution request, long catalogId, string path, int version);

    /// <remarks>
    /// NotFound; Forbidden (<c>wrong_pool</c>); Conflict (<c>already_terminal</c>, <c>active_claim</c> with the holder and
    /// a retry delay); Invalid (<c>body.worker_id</c> carries a secret); Unavailable.
    /// </remarks>
    [Alias("Claim")] Task<Outcome<CommandClaim>> Claim(long eventId, string workerId, JsonText? locality);

    /// <remarks>NotFound.</remarks>
    [Alias("GetCommand")] Task<Outcome<CommandView>> GetCommand(long eventId);

    /// <remarks>
    /// NotFound (the execution, or a command not of it); Forbidden (<c>wrong_pool</c>); Invalid (a field of the event);
    /// Conflict (the claim's holder, lease or epoch, a claimed command); TooLarge (an inline result); Unavailable.
    /// </remarks>
    [Alias("Append")] Task<Outcome<EventAccepted>> Append(WorkerEvent workerEvent);

    /// <summary>All events or none; a batch repeated under its <paramref name="idempotencyKey"/> stores nothing.</summary>
    /// <remarks>As <see cref="Append"/>, for the first event refused.</remarks>
    [Alias("AppendBatch")] Task<Outcome<BatchAccepted>> AppendBatch(IReadOnlyList<WorkerEvent> events, string? workerId, string? idempotencyKey);

    /// <summary>Inserts already-formed envelopes (the internal projection path); returns how many were new.</summary>
    [Alias("Project")] Task<int> Project(string envelopesJson);

    /// <remarks>NotFound.</remarks>
    [Alias("Status")] Task<Outcome<ExecutionStatusReport>> Status();

    /// <summary>Nothing but the activation: it rebuilds the execution and resumes its reaper (<c>OrphanedCommandWatch</c>).</summary>
    [Alias("Wake")] Task Wake();

    /// <summary>The final step's result of a completed execution (JSON text, redacted), or null.</summary>
    [Alias("FinalResult")] Task<string?> FinalResult();

    /// <remarks>NotFound.</remarks>
    [Alias("CancellationCheck")] Task<Outcome<CancellationState>> CancellationCheck();

    /// <remarks>NotFound; Unavailable.</remarks>
    [Alias("Cancel")] Task<Outcome<Cancellation>> Cancel(string reason, bool cascade);

    /// <summary>Stores a result too large to inline in an event (<c>PUT /api/result</c>); workers of the execution's pool only.</summary>
    /// <remarks>NotFound; Forbidden (<c>wrong_pool</c>); TooLarge.</remarks>
    [Alias("StoreResult")] Task<Outcome<StoredResult>> StoreResult(ResultInput input);

    /// <summary>A stored result, redacted: the newest of that <paramref name="name"/>, or the one of that <paramref name="reference"/>.</summary>
    /// <remarks>NotFound; Forbidden (<c>wrong_pool</c>).</remarks>
    [Alias("ReadResult")] Task<Outcome<ResultView>> ReadResult(string? name, string? reference);

    /// <summary>A credential was read for this execution: its values must be scrubbed from results stored from now on.</summary>
    [Alias("SecretsIssued"), Orleans.Concurrency.OneWay] Task SecretsIssued();
}
