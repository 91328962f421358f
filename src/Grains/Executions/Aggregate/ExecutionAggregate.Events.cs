using System.Text.Json.Nodes;
using NoEtl.Grains.Commands;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Executions.Aggregate;

// Worker events: who may report what (EventBinding), NoETL's idempotency, scrubbing, and the engine's reaction.
public sealed partial class ExecutionAggregate
{
    private sealed record StoredBatch(long RequestId, List<long> EventIds);

    private readonly record struct Accepted(long EventId, int Generated, bool Duplicate = false, Failure? Rejection = null)
    {
        public static Accepted Reject(Failure failure) => new(0, 0, Rejection: failure);
    }

    /// <summary>The ref of a posted event's <c>result_ref</c> result; payloads without the marker are not parsed here.</summary>
    public static string? ReferenceIn(WorkerEvent workerEvent) =>
        workerEvent.PayloadJson.Contains("result_ref", StringComparison.Ordinal)
            ? WorkerEvents.ResultRef(JsonInput.ParseOrNull(workerEvent.PayloadJson) as JsonObject)
            : null;

    /// <param name="secrets">Values of the credentials read for this execution: scrubbed from what is stored.</param>
    /// <param name="referenced">What the event's <c>result_ref</c> points at (<see cref="ReferenceIn(WorkerEvent)"/>).</param>
    /// <param name="loopHistory">The finished iterations of the loops of <see cref="LoopsToRead"/>, by step.</param>
    public TurnDecision<EventAccepted> Append(WorkerEvent workerEvent, Caller caller, IReadOnlyCollection<string> secrets,
        IReadOnlyDictionary<string, JsonNode?> referenced, IReadOnlyDictionary<string, IReadOnlyList<IterationFinish>>? loopHistory = null)
    {
        if (EventBinding.CheckPool(caller, Pool, ExecutionId) is { } foreignPool)
            return new(foreignPool);
        var turn = new Turn();
        var outcome = WithLoopHistory(loopHistory, () => Accept(workerEvent, turn, batchMeta: null, secrets, referenced));
        if (outcome.Rejection is { } rejection)
            return new(rejection);
        return new(new EventAccepted(outcome.EventId, outcome.Duplicate ? 0 : outcome.Generated), outcome.Duplicate ? null : turn);
    }

    /// <summary>Runs a call with the loop history the grain read for it; the history is not kept past the call.</summary>
    private T WithLoopHistory<T>(IReadOnlyDictionary<string, IReadOnlyList<IterationFinish>>? loopHistory, Func<T> call)
    {
        _state.SupplyLoopHistory(loopHistory);
        try
        {
            return call();
        }
        finally
        {
            _state.SupplyLoopHistory(null);
        }
    }

    /// <summary>A replayed batch (same <c>Idempotency-Key</c>) stores nothing and is answered with the first one's event ids.</summary>
    public Outcome<BatchAccepted>? BatchReplay(Caller caller, string? idempotencyKey, int queueDepth)
    {
        if (EventBinding.CheckPool(caller, Pool, ExecutionId) is { } foreignPool)
            return foreignPool;
        if (idempotencyKey is null || !_batches.TryGetValue(idempotencyKey, out var stored))
            return null;
        return BatchReply(stored, commandsGenerated: 0, idempotencyKey, duplicate: true, queueDepth);
    }

    /// <summary>All events of a batch or none: a refused event refuses the batch (and leaves the aggregate dirty).</summary>
    /// <param name="queueDepth">Turns of this silo waiting for a group commit, reported in the reply.</param>
    /// <param name="loopHistory">The finished iterations of the loops of <see cref="LoopsToRead"/>, by step.</param>
    public TurnDecision<BatchAccepted> AppendBatch(IReadOnlyList<WorkerEvent> events, string? workerId, string? idempotencyKey, Caller caller,
        IReadOnlyCollection<string> secrets, IReadOnlyDictionary<string, JsonNode?> referenced, int queueDepth,
        IReadOnlyDictionary<string, IReadOnlyList<IterationFinish>>? loopHistory = null) =>
        WithLoopHistory(loopHistory, () => AcceptBatch(events, workerId, idempotencyKey, caller, secrets, referenced, queueDepth));

    private TurnDecision<BatchAccepted> AcceptBatch(IReadOnlyList<WorkerEvent> events, string? workerId, string? idempotencyKey, Caller caller,
        IReadOnlyCollection<string> secrets, IReadOnlyDictionary<string, JsonNode?> referenced, int queueDepth)
    {
        if (BatchReplay(caller, idempotencyKey, queueDepth) is { } replay)
            return new(replay);
        if (SecretInIdentifiers(secrets, ("worker_id", workerId), ("Idempotency-Key", idempotencyKey)) is { } leak)
            return new(leak);
        var requestId = _context.Clock.NextId();
        var batchMeta = new JsonObject { ["batch_request_id"] = requestId.ToString(), ["idempotency_key"] = idempotencyKey };
        var turn = new Turn();
        var outcomes = new List<Accepted>();
        foreach (var workerEvent in events)
        {
            var outcome = Accept(workerEvent with { WorkerId = workerEvent.WorkerId ?? workerId }, turn, batchMeta, secrets, referenced);
            if (outcome.Rejection is { } rejection)
                return new(rejection, Dirty: true); // nothing of the batch is kept: rebuild, not unwind
            outcomes.Add(outcome);
        }
        var batch = new StoredBatch(requestId, [.. outcomes.Select(o => o.EventId)]);
        if (idempotencyKey is not null)
            _batches[idempotencyKey] = batch; // the exact reply, duplicates within the batch included
        return new(BatchReply(batch, outcomes.Sum(o => o.Generated), idempotencyKey, duplicate: false, queueDepth), turn);
    }

    private static BatchAccepted BatchReply(StoredBatch batch, int commandsGenerated, string? idempotencyKey, bool duplicate, int queueDepth) =>
        new(batch.RequestId, batch.EventIds, commandsGenerated, queueDepth, duplicate, idempotencyKey);

    /// <summary>The event envelopes of <c>POST /api/internal/events/project</c>, one per event id.</summary>
    public static List<JsonObject> ProjectionEnvelopes(string envelopesJson) =>
        [.. (JsonNode.Parse(envelopesJson) as JsonArray ?? []).OfType<JsonObject>().DistinctBy(e => WireIds.Read(e["event_id"]))];

    public static long EventIdOf(JsonObject envelope) => WireIds.Read(envelope["event_id"])!.Value;

    /// <summary>The envelopes not yet in the log (<paramref name="present"/>), scrubbed like worker payloads.</summary>
    public static List<JsonObject> ProjectedEvents(IEnumerable<JsonObject> envelopes, IReadOnlySet<long> present, IReadOnlyCollection<string> secrets) =>
        [.. envelopes.Where(e => !present.Contains(EventIdOf(e))).Select(e => Scrub(e, secrets))];

    private Accepted Accept(WorkerEvent workerEvent, Turn turn, JsonObject? batchMeta, IReadOnlyCollection<string> secrets,
        IReadOnlyDictionary<string, JsonNode?> referenced)
    {
        if (JsonInput.ParseOrNull(workerEvent.PayloadJson) is not JsonObject payload)
            return Accepted.Reject(Failure.Invalid("body.payload", "payload must be an object"));
        if (WorkerEvents.Validate(payload) is { } problem)
            return Accepted.Reject(Failure.Invalid("body.payload", problem));
        if (WorkerEvents.InlineTooLarge(workerEvent.PayloadJson, payload) is { } tooLarge)
            return Accepted.Reject(Failure.TooLarge(tooLarge));
        if (SecretInIdentifiers(secrets, ("step", workerEvent.Step), ("name", workerEvent.Name), ("worker_id", workerEvent.WorkerId)) is { } leak)
            return Accepted.Reject(leak);

        var requestMeta = JsonInput.ParseObject(workerEvent.MetaJson);
        var commandId = WorkerEvents.CommandId(payload, requestMeta);
        var name = workerEvent.Name;
        if (commandId is { } idempotent && DeduplicatedEvents.Names.Contains(name)
            && FirstWorkerEvent(name, workerEvent.Step, idempotent) is { } existing)
            return new Accepted(existing, 0, Duplicate: true);

        CommandRecord? command = null;
        if (commandId is { } id && !_commands.TryGetValue(id, out command))
            return Accepted.Reject(Failure.NotFound($"Command {id} is not a command of execution {ExecutionId}"));
        var binding = command is null
            ? EventBinding.CheckUnbound(name)
            : EventBinding.CheckHolder(command, workerEvent, requestMeta, payload, ExecutionId, _context.Leases, Options);
        if (binding is not null)
            return Accepted.Reject(binding);
        if (name == "command.claimed" && command?.WorkerId is { } holder)
        {
            return holder == workerEvent.WorkerId
                ? new Accepted(0, 0, Duplicate: true)
                : Accepted.Reject(new Failure(FailureKind.Conflict, null, $"Command already claimed by {holder}"));
        }

        EventBinding.RemoveLeaseToken(payload);
        payload = Scrub(payload, secrets);
        var status = WorkerEvents.StatusFromName(name);
        var eventId = NextEventId();
        var meta = ScrubMeta(requestMeta, secrets);
        meta["actionable"] = workerEvent.Actionable;
        meta["informative"] = workerEvent.Informative;
        meta["worker_id"] = workerEvent.WorkerId;
        meta["command_id"] = commandId;
        meta["persisted_event_id"] = eventId;
        if (batchMeta is not null)
            foreach (var (key, value) in batchMeta)
                meta[key] = value?.DeepClone();

        var row = new EventRow(eventId, name, workerEvent.Step, command?.ToolKind, status, payload,
            WorkerEvents.BuildResult(payload, status), meta, WorkerEvents.Error(payload), workerEvent.WorkerId, commandId,
            command?.EventId, Now);
        turn.Events.Add(row);
        if (command is not null)
            ProjectCommand(command, row, turn);
        var statusBefore = StatusText;
        var logged = Fold(row, WorkerEvents.ResultRef(payload) is { } resultRef ? referenced.GetValueOrDefault(resultRef) : null);

        var generated = 0;
        if (workerEvent.Actionable && command is not null && Orchestrator.IsTrigger(name))
            generated = Record(Orchestrator.Decide(Catalog.Playbook, _state, logged, Options.Limits), turn, eventId, name);
        // Like NoETL's save_state, the projection is rewritten when the engine handled the event (Record set it) or the
        // status changed, not for every worker event: command.started, claims and heartbeats leave it alone.
        if (turn.Execution is not null || StatusText != statusBefore)
            turn.Execution = Projection();
        return new Accepted(eventId, generated);
    }

    /// <summary>The <c>noetl.command</c> updates NoETL derives from worker events; a status never moves backwards.</summary>
    private void ProjectCommand(CommandRecord command, EventRow row, Turn turn)
    {
        var now = row.CreatedAt;
        switch (row.EventType)
        {
            case "command.started" when command.CompletedAt is null:
                command.Status = "RUNNING";
                command.StartedAt ??= now;
                turn.CommandChanges.Add(new CommandChange(command.CommandId, "RUNNING", null, null, now, null, null, null, row.EventId));
                break;
            case "command.claimed":
                command.Status = "CLAIMED";
                command.WorkerId = _names.Shared(row.WorkerId);
                command.ClaimedAt = now;
                turn.CommandChanges.Add(new CommandChange(command.CommandId, "CLAIMED", row.WorkerId, now, null, null, null, null, row.EventId));
                break;
            case "command.completed" or "command.failed" or "command.cancelled":
                var status = row.EventType switch { "command.completed" => "COMPLETED", "command.failed" => "FAILED", _ => "CANCELLED" };
                command.Status = status;
                command.CompletedAt ??= now;
                turn.CommandChanges.Add(new CommandChange(command.CommandId, status, null, null, null, now, row.Result, row.Error, row.EventId));
                break;
        }
    }

    /// <summary>Values by NoETL's rules, and keys too: a secret used as an object key must not reach a row either.</summary>
    public static JsonObject Scrub(JsonObject payload, IReadOnlyCollection<string> secrets) =>
        Redactor.ScrubSecretKeys(Redactor.Redact(payload, Redactor.HeaderCredentialKeys, secrets), secrets) as JsonObject ?? [];

    /// <summary>Any JSON value scrubbed like a worker payload (the scrub works on objects, so the value is wrapped).</summary>
    public static string? ScrubPart(string? json, IReadOnlyCollection<string> secrets) =>
        json is null ? null : Scrub(new JsonObject { ["value"] = JsonNode.Parse(json) }, secrets)["value"]?.ToJsonString() ?? "null";

    /// <summary>The request's <c>meta</c>, scrubbed like payloads, without the claim's lease token.</summary>
    private static JsonObject ScrubMeta(JsonObject? meta, IReadOnlyCollection<string> secrets)
    {
        if (meta is null)
            return [];
        var copy = Scrub(meta, secrets);
        EventBinding.RemoveLeaseToken(copy);
        return copy;
    }

    /// <summary>
    /// Identifiers (event name, step, worker id) are indexed and shown as they are, so one that carries a secret
    /// is refused rather than stored in a mangled form.
    /// </summary>
    private static Failure? SecretInIdentifiers(IReadOnlyCollection<string> secrets, params (string Field, string? Value)[] identifiers)
    {
        foreach (var (field, value) in identifiers)
            if (value is not null && Redactor.ContainsSecretValue(value, secrets))
                return Failure.Invalid($"body.{field}", $"{field} carries the value of a credential read for this execution; secrets are never stored");
        return null;
    }
}
