using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using NoEtl.Grains.Catalog;
using NoEtl.Grains.Commands;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Telemetry;

namespace NoEtl.Grains.Executions;

// How a turn is assembled: worker events and engine decisions become rows, each row is folded into the
// in-memory state as it is added, and the whole turn is committed at once.
public sealed partial class ExecutionGrain
{
    private sealed record StoredBatch(string RequestId, List<long> EventIds);

    private readonly record struct Accepted(long EventId, int Generated, bool Duplicate = false, Reply? Rejection = null)
    {
        public static Accepted Reject(Reply reply) => new(0, 0, Rejection: reply);
    }

    private Accepted Accept(WorkerEvent workerEvent, Turn turn, JsonObject? batchMeta, IReadOnlyCollection<string> secrets,
        IReadOnlyDictionary<string, JsonNode?> referenced)
    {
        if (JsonReplies.ParseOrNull(workerEvent.PayloadJson) is not JsonObject payload)
            return Accepted.Reject(new Reply(ReplyStatus.Invalid, JsonReplies.FieldErrors([("body.payload", "payload must be an object")])));
        if (WorkerEvents.Validate(payload) is { } problem)
            return Accepted.Reject(new Reply(ReplyStatus.Invalid, JsonReplies.FieldErrors([("body.payload", problem)])));
        if (WorkerEvents.InlineTooLarge(workerEvent.PayloadJson, payload) is { } tooLarge)
            return Accepted.Reject(new Reply(ReplyStatus.TooLarge, JsonReplies.Detail(tooLarge)));
        if (SecretInIdentifiers(secrets, ("step", workerEvent.Step), ("name", workerEvent.Name), ("worker_id", workerEvent.WorkerId)) is { } leak)
            return Accepted.Reject(leak);

        var requestMeta = JsonReplies.ParseObject(workerEvent.MetaJson);
        var commandId = WorkerEvents.CommandId(payload, requestMeta);
        var name = workerEvent.Name;
        if (commandId is { } idempotent && WorkerEvents.IdempotentNames.Contains(name)
            && _firstWorkerEvent.TryGetValue((name, workerEvent.Step, idempotent), out var existing))
            return new Accepted(existing, 0, Duplicate: true);

        CommandRecord? command = null;
        if (commandId is { } id && !_commands.TryGetValue(id, out command))
            return Accepted.Reject(JsonReplies.NotFound($"Command {id} is not a command of execution {ExecutionId}"));
        var binding = command is null
            ? EventBinding.CheckUnbound(name)
            : EventBinding.CheckHolder(command, workerEvent, requestMeta, payload, ExecutionId, leases, options);
        if (binding is not null)
            return Accepted.Reject(binding);
        if (name == "command.claimed" && command?.WorkerId is { } holder)
        {
            return holder == workerEvent.WorkerId
                ? new Accepted(0, 0, Duplicate: true)
                : Accepted.Reject(new Reply(ReplyStatus.Conflict, JsonReplies.Detail($"Command already claimed by {holder}")));
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

        var now = ExecutionLog.NowUtc();
        var row = new EventRow(eventId, name, workerEvent.Step, command?.ToolKind, status, payload,
            WorkerEvents.BuildResult(payload, status), meta, WorkerEvents.Error(payload), workerEvent.WorkerId, commandId,
            command?.EventId, now);
        turn.Events.Add(row);
        if (command is not null)
            ProjectCommand(command, row, turn);
        var statusBefore = StatusText;
        var logged = Fold(row, WorkerEvents.ResultRef(payload) is { } resultRef ? referenced.GetValueOrDefault(resultRef) : null);

        var generated = 0;
        if (workerEvent.Actionable && command is not null && Orchestrator.IsTrigger(name))
            generated = Record(Orchestrator.Decide(_catalog!.Playbook, _state!, logged, options.Limits), turn, eventId, name);
        // Like NoETL's save_state, the projection is rewritten when the engine handled the event (Record set it) or the
        // status changed, not for every worker event: command.started, claims and heartbeats leave it alone.
        if (turn.Execution is not null || StatusText != statusBefore)
            turn.Execution = Projection();
        return new Accepted(eventId, generated);
    }

    /// <summary>The <c>noetl.command</c> updates NoETL derives from worker events; a status never moves backwards.</summary>
    private static void ProjectCommand(CommandRecord command, EventRow row, Turn turn)
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
                command.WorkerId = row.WorkerId;
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

    /// <summary>Turns an engine decision into rows; returns the number of commands issued.</summary>
    private int Record(Decision decision, Turn turn, long? parentEventId, string triggeredBy)
    {
        var generated = 0;
        var now = ExecutionLog.NowUtc();
        foreach (var emission in decision.Emissions)
        {
            switch (emission)
            {
                case EmitEvent emitted:
                    var row = new EventRow(NextEventId(), emitted.EventType, emitted.NodeName, null, emitted.Status, emitted.Context,
                        emitted.Result, emitted.Meta, emitted.Error, null, null, parentEventId, now);
                    turn.Events.Add(row);
                    Fold(row);
                    break;
                case IssueCommand issued:
                    IssueCommand(issued, turn, parentEventId, triggeredBy, now);
                    generated++;
                    break;
            }
        }
        if (turn.Events.Count > 0)
            turn.Execution = Projection();
        return generated;
    }

    private void IssueCommand(IssueCommand issued, Turn turn, long? parentEventId, string triggeredBy, DateTime now)
    {
        var commandId = ids.Next();
        var eventId = NextEventId();
        var context = new JsonObject
        {
            ["tool_config"] = issued.ToolConfig.DeepClone(),
            ["input"] = issued.Input.DeepClone(),
            ["render_context"] = issued.RenderContext.DeepClone(),
            ["spec"] = issued.Spec?.DeepClone(),
        };
        var meta = new JsonObject
        {
            ["command_id"] = commandId,
            ["step"] = issued.Step,
            ["tool_kind"] = issued.ToolKind,
            ["max_attempts"] = 3,
            ["attempt"] = 1,
            ["execution_id"] = ExecutionId.ToString(),
            ["catalog_id"] = _catalog!.CatalogId.ToString(),
            ["actionable"] = true,
            ["triggered_by"] = triggeredBy,
            ["issued_by_silo"] = silo.SiloAddress.ToString(), // which shard owned the execution, for operators
        };
        foreach (var (key, value) in issued.Meta)
            meta[key] = value?.DeepClone();

        var row = new EventRow(eventId, "command.issued", issued.Step, issued.ToolKind, "PENDING", context, null, meta, null, null,
            commandId, parentEventId, now);
        turn.Events.Add(row);
        turn.NewCommands.Add(new NewCommandRow(commandId, eventId, issued.Step, issued.ToolKind, context, meta, now));
        var command = new CommandRecord(commandId, eventId, issued.Step, issued.ToolKind, context, meta, 1);
        _commands[commandId] = command;
        _commandByEvent[eventId] = commandId;
        turn.Outbox.Add(new OutboxRow(eventId, Subject, Notification(command)));
        Fold(row);
    }

    /// <summary>Commands of <c>system/*</c> playbooks go to the system pool only (noetl-api.md §2.7).</summary>
    private string Pool => SystemPlaybooks.PoolOf(_catalog!.Path);

    /// <param name="referencedData">What a <c>result_ref</c> in the row's payload points at (<see cref="ReferencedDataAsync"/>).</param>
    private LoggedEvent Fold(EventRow row, JsonNode? referencedData = null)
    {
        var logged = new LoggedEvent(row.EventId, row.EventType, row.NodeName, row.Status, row.Context, row.Result, row.Meta,
            row.CommandId, row.Error)
        { CreatedAt = row.CreatedAt, ReferencedData = referencedData };
        _state!.Apply(logged);
        _lastEventId = Math.Max(_lastEventId, row.EventId);
        _lastEventType = row.EventType;
        _lastNodeName = row.NodeName;
        if (_terminalEventType is null && TerminalEventTypes.Contains(row.EventType))
        {
            _terminalEventType = row.EventType;
            _endTime = row.CreatedAt;
            if (row.EventType == "execution.cancelled" && row.Meta?["cascade"] is JsonValue cascade && cascade.TryGetValue<bool>(out var owed) && owed)
                _cascade = new OwedCascade(row.Error ?? "Parent execution cancelled");
        }
        if (row.CommandId is { } commandId && WorkerEvents.IdempotentNames.Contains(row.EventType))
            _firstWorkerEvent.TryAdd((row.EventType, row.NodeName ?? "", commandId), row.EventId);
        if (row.Meta?["idempotency_key"] is JsonValue key && key.TryGetValue<string>(out var batchKey)
            && row.Meta["batch_request_id"] is JsonValue request && request.TryGetValue<string>(out var requestId))
        {
            if (!_batches.TryGetValue(batchKey, out var batch))
                _batches[batchKey] = batch = new StoredBatch(requestId, []);
            batch.EventIds.Add(row.EventId);
        }
        if (row.EventType == "command.claimed" && row.CommandId is { } claimed && _commands.TryGetValue(claimed, out var record))
            record.LeaseEpoch++;
        return logged;
    }

    /// <summary>Event ids order the log, so they must grow within an execution even across silos' clocks.</summary>
    private long NextEventId() => Math.Max(ids.Next(), _lastEventId + 1);

    private ExecutionProjection Projection() =>
        new(StatusText, _lastEventId, _lastEventType, _lastNodeName, _startTime, _endTime, _state!.Error);

    private async Task<Reply?> CommitAsync(Turn turn)
    {
        try
        {
            await writer.CommitAsync(ExecutionId, _writerEpoch, _catalog!.CatalogId, _parentExecutionId, turn);
        }
        catch (Exception e)
        {
            // The folds of this turn are in memory only: drop the activation so the next call rebuilds from the log.
            DeactivateOnIdle();
            switch (e)
            {
                case StaleWriterException:
                    LogSuperseded(ExecutionId, _writerEpoch);
                    break;
                case CommitQueueFullException:
                    break; // seen in noetl_commit_queue_depth; a log line per refused turn would add to the overload
                default:
                    LogCommitFailed(e, ExecutionId);
                    break;
            }
            if (DatabaseUnavailable.CodeOf(e) is { } code)
                return DatabaseUnavailable.Reply(code);
            throw;
        }
        if (_writerEpoch == ExecutionLog.UnclaimedWriterEpoch)
            _writerEpoch = ExecutionLog.FirstWriterEpoch; // that commit created the execution's writer row
        NoEtlMetrics.TurnCommitted(turn, Pool);
        foreach (var issued in turn.NewCommands)
            locations.Remember(issued.EventId, ExecutionId);
        if (turn.Outbox.Count > 0)
            GrainFactory.Reference<IOutboxGrain>(0).RowsCommitted().Ignore();
        TrackInFlightCommands();
        return null;
    }

    private JsonObject ClaimResponse(CommandRecord command, long eventId, JsonObject? reclaim)
    {
        var leaseToken = leases.Mint(ExecutionId, command.CommandId, command.LeaseEpoch);
        var meta = command.Meta.DeepClone().AsObject();
        meta["worker_id"] = command.WorkerId;
        meta["lease_epoch"] = command.LeaseEpoch;
        meta[EventBinding.LeaseTokenKey] = leaseToken;
        if (reclaim is not null)
            foreach (var key in new[] { "reclaimed", "reclaimed_from_worker", "reclaimed_reason" })
                meta[key] = reclaim[key]?.DeepClone();
        return new JsonObject
        {
            ["status"] = "ok",
            ["event_id"] = eventId,
            ["execution_id"] = ExecutionId,
            ["lease_epoch"] = command.LeaseEpoch, // fencing token: workers that know it send it back with their events
            [EventBinding.LeaseTokenKey] = leaseToken, // proves the events come from this claim's holder
            ["node_id"] = command.Step,
            ["node_name"] = command.Step,
            ["action"] = command.ToolKind,
            ["context"] = command.Context.DeepClone(),
            ["meta"] = meta,
        };
    }

    private async Task<HolderLiveness?> ReadLivenessAsync(string workerId)
    {
        await using var command = database.CreateCommand(
            "SELECT status, EXTRACT(EPOCH FROM now() - heartbeat)::float8 FROM noetl.runtime WHERE kind = 'worker_pool' AND name = $1");
        command.Parameters.AddWithValue(workerId);
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? new HolderLiveness(reader.GetString(0), reader.GetDouble(1)) : null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId} started from {Path} v{Version} with {Commands} command(s)")]
    private partial void LogStarted(long executionId, string path, int version, int commands);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Execution {ExecutionId} rebuilt from {Events} events and {Commands} commands")]
    private partial void LogRebuilt(long executionId, int events, int commands);

    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId}: command {CommandId} reclaimed by {WorkerId} from {PreviousWorker} ({Reason})")]
    private partial void LogReclaimed(long executionId, long commandId, string workerId, string? previousWorker, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId}: keychain entries not resolved at execute time: {Names}")]
    private partial void LogKeychainSkipped(long executionId, string names);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId}: writer epoch {Epoch} was superseded by another activation; its turn was refused and this activation deactivates")]
    private partial void LogSuperseded(long executionId, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId}: commit failed; the activation will be rebuilt from the log")]
    private partial void LogCommitFailed(Exception exception, long executionId);
}
