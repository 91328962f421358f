using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Npgsql;
using NoEtl.Grains.Audit;
using NoEtl.Grains.Catalog;
using NoEtl.Grains.Commands;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Keychain;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Security;
using NoEtl.Grains.Telemetry;
using Orleans.Placement;

namespace NoEtl.Grains.Executions;

/// <summary>
/// The single writer of one execution. Placement hashes the execution id over the silos, so executions
/// spread evenly and deterministically (Orleans' default placement would pile new grains on one silo).
/// Every turn folds its events into the in-memory state and commits them in one transaction; if the commit
/// fails the activation is dropped, so the next call rebuilds the state from what the log really holds.
/// </summary>
[HashBasedPlacement]
public sealed partial class ExecutionGrain(
    NpgsqlDataSource database,
    SnowflakeIds ids,
    PlaybookCache playbooks,
    ServerOptions options,
    SecretCipher cipher,
    LeaseTokens leases,
    CommandLocations locations,
    TurnWriter writer,
    ILocalSiloDetails silo,
    ILogger<ExecutionGrain> logger) : Grain, IExecutionGrain
{
    private static readonly HashSet<string> TerminalEventTypes =
        ["playbook.completed", "playbook.failed", "workflow.completed", "workflow.failed", "execution.cancelled"];

    private readonly Dictionary<long, CommandRecord> _commands = [];
    private readonly Dictionary<long, long> _commandByEvent = [];
    private readonly Dictionary<(string Name, string Step, long CommandId), long> _firstWorkerEvent = [];
    // Event batches stored under an Idempotency-Key, by key: a replay is answered from here (rebuilt from event meta).
    private readonly Dictionary<string, StoredBatch> _batches = [];
    private ExecutionLog _log = null!;
    private long _writerEpoch;
    private CatalogPlaybook? _catalog;
    private ExecutionState? _state;
    private long? _parentExecutionId;
    private long _lastEventId;
    private string? _lastEventType;
    private string? _lastNodeName;
    private DateTime _startTime;
    private DateTime? _endTime;
    private string? _terminalEventType;

    private long ExecutionId => this.GetPrimaryKeyLong();
    private bool Exists => _state is not null;
    private bool IsTerminal => _terminalEventType is not null;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _log = new ExecutionLog(database, ExecutionId);
        _writerEpoch = await _log.TakeWriterEpochAsync(); // before reading: the log must include the previous writer's last turn
        var events = await _log.ReadEventsAsync();
        if (events.Count == 0)
            return;
        var initialized = events.FirstOrDefault(e => e.EventType == "playbook.initialized")
            ?? throw new InvalidOperationException($"execution {ExecutionId} has events but no playbook.initialized");
        var catalogId = WireIds.Read(initialized.Context?["catalog_id"])
            ?? throw new InvalidOperationException($"execution {ExecutionId}: playbook.initialized lacks catalog_id");
        _catalog = await playbooks.GetAsync(catalogId)
            ?? throw new InvalidOperationException($"execution {ExecutionId}: catalog entry {catalogId} is gone");
        _parentExecutionId = WireIds.Read(initialized.Context?["parent_execution_id"]);
        _startTime = initialized.CreatedAt;
        _state = new ExecutionState(_catalog.Playbook);
        foreach (var command in await _log.ReadCommandsAsync())
        {
            _commands[command.CommandId] = command;
            _commandByEvent[command.EventId] = command.CommandId;
        }
        var referenced = await ReferencedDataAsync(events.Select(e => WorkerEvents.ResultRef(e.Context)));
        foreach (var row in events)
            Fold(row, WorkerEvents.ResultRef(row.Context) is { } resultRef ? referenced.GetValueOrDefault(resultRef) : null);
        LogRebuilt(ExecutionId, events.Count, _commands.Count);
        TrackInFlightCommands();
        await ResumeCascadeAsync();
    }

    public async Task<Reply> Start(StartExecution request, long catalogId, string path, int version)
    {
        if (Exists)
            return new Reply(ReplyStatus.Conflict, JsonReplies.Detail("already_started", $"execution {ExecutionId} already exists"));
        _catalog = await playbooks.GetAsync(catalogId);
        if (_catalog is null)
            return JsonReplies.NotFound($"Executable catalog entry not found: {path}");

        var workload = JsonReplies.ParseObject(request.WorkloadJson) ?? [];
        if (SystemPlaybookRefusal(_catalog.Playbook, path, workload) is { } refusal)
        {
            _catalog = null; // nothing of this activation is kept when refused
            return refusal;
        }
        // Read before the turn, written by it: an execution never exists without its keychain entries.
        PlaybookKeychain.Outcome? keychain = null;
        try
        {
            if (_catalog.Playbook.Keychain is { Count: > 0 } section)
                keychain = await PlaybookKeychain.ResolveAsync(database, cipher, writer, section, catalogId, ExecutionId, request.ParentExecutionId);
        }
        catch (Exception e) when (DatabaseUnavailable.CodeOf(e) is { } code)
        {
            _catalog = null;
            return DatabaseUnavailable.Reply(code);
        }
        _parentExecutionId = request.ParentExecutionId;
        _startTime = ExecutionLog.NowUtc();
        _state = new ExecutionState(_catalog.Playbook);

        var turn = new Turn();
        var decision = Orchestrator.Start(_catalog.Playbook, ExecutionId, catalogId, path, version, workload, request.ParentExecutionId,
            options.Limits);
        var generated = Record(decision, turn, parentEventId: null, triggeredBy: "execute");
        // Who started it: the internal API credits projections of this execution to that principal.
        var caller = Caller.Current;
        turn.Events.First(e => e.EventType == "playbook.initialized").Context!["started_by"] =
            new JsonObject { ["principal"] = caller.Principal, ["role"] = caller.Role, ["pool"] = caller.Pool };
        turn.Keychain.AddRange(keychain?.Rows ?? []);
        if (request.IdempotencyKey is { } key)
            turn.Request = new ExecutionRequestRow(key, generated);
        Reply? failure;
        try
        {
            failure = await CommitAsync(turn);
        }
        catch (Exception e) when (IdempotentStarts.IsDuplicate(e))
        {
            // A concurrent start under the same key committed first (this one is rolled back): answer with that one.
            if (await IdempotentStarts.FindAsync(database, request.IdempotencyKey!) is not { } winner)
                throw;
            return winner;
        }
        if (failure is not null)
            return failure;

        _secretValues = null; // the keychain entries' values are scrubbed from results from now on
        LogStarted(ExecutionId, LogText.Escape(path), version, generated);
        if (keychain?.Skipped is { Count: > 0 } skipped)
            LogKeychainSkipped(ExecutionId, LogText.Escape(string.Join(", ", skipped)));
        return IdempotentStarts.Started(ExecutionId, generated);
    }

    /// <summary>User pools may not start system playbooks, and nobody may override the workload keys they fix.</summary>
    private static Reply? SystemPlaybookRefusal(Playbook playbook, string path, JsonObject workload)
    {
        if (!SystemPlaybooks.IsSystemPath(path))
            return null;
        var caller = Caller.Current;
        if (!SystemPlaybooks.MayExecute(caller))
            return new Reply(ReplyStatus.Forbidden, JsonReplies.Detail(SystemPlaybooks.RefusalCode,
                $"{path} is a system playbook: pool '{caller.Pool}' may not start it"));
        var fixedKeys = SystemPlaybooks.FixedKeys(playbook.Document).Where(workload.ContainsKey).ToList();
        return fixedKeys.Count == 0
            ? null
            : new Reply(ReplyStatus.Invalid, JsonReplies.FieldErrors(fixedKeys.Select(key =>
                ($"body.workload.{key}", $"'{key}' is fixed by the system playbook {path} and cannot be overridden"))));
    }

    public async Task<Reply> Claim(long eventId, string workerId, string? localityJson)
    {
        if (!Exists || !_commandByEvent.TryGetValue(eventId, out var commandId))
            return JsonReplies.NotFound($"command not found: {eventId}");
        var command = _commands[commandId];
        if (Caller.Current.Pool is { } callerPool && callerPool != Pool)
            return new Reply(ReplyStatus.Forbidden, JsonReplies.Detail("wrong_pool",
                $"Command {commandId} is routed to pool '{Pool}'; pool '{callerPool}' may not claim it"));
        var secrets = await SecretValuesAsync();
        if (SecretInIdentifiers(secrets, ("worker_id", workerId)) is { } leak)
            return leak;
        var now = DateTime.UtcNow;

        HolderLiveness? holder = null;
        if (ClaimPolicy.NeedsHolderLiveness(command, workerId, now, options))
        {
            try { holder = await ReadLivenessAsync(command.WorkerId!); }
            catch (Exception e) when (DatabaseUnavailable.CodeOf(e) is { } code) { return DatabaseUnavailable.Reply(code); }
        }

        var decision = ClaimPolicy.Decide(command, IsTerminal, workerId, now, options, holder);
        switch (decision.Verdict)
        {
            case ClaimVerdict.Terminal:
                return new Reply(ReplyStatus.Conflict, JsonReplies.Detail("already_terminal",
                    IsTerminal ? $"Execution {ExecutionId} is terminal ({_terminalEventType})" : $"Command {commandId} is {command.Status}"));
            case ClaimVerdict.Held:
                var extra = new JsonObject { ["worker_id"] = command.WorkerId };
                if (decision.HolderRunning)
                    extra["worker_status"] = "running";
                return new Reply(ReplyStatus.Conflict,
                    JsonReplies.Detail("active_claim", $"Command {commandId} is claimed by {command.WorkerId}", extra),
                    options.ClaimRetryAfterSeconds);
            case ClaimVerdict.Repeat:
                return JsonReplies.Ok(ClaimResponse(command, eventId, null));
        }

        var previousHolder = command.WorkerId;
        var meta = new JsonObject
        {
            ["command_id"] = commandId,
            ["worker_id"] = workerId,
            ["lease_epoch"] = command.LeaseEpoch + 1,
            ["actionable"] = false,
            ["informative"] = true,
        };
        if (JsonReplies.ParseOrNull(localityJson) is JsonObject locality)
            meta["locality"] = Scrub(locality, secrets);
        if (decision.ReclaimReason is { } reason)
        {
            meta["reclaimed"] = true;
            meta["reclaimed_from_worker"] = previousHolder;
            meta["reclaimed_reason"] = reason;
        }

        var turn = new Turn();
        var claimedAt = ExecutionLog.NowUtc();
        var row = new EventRow(NextEventId(), "command.claimed", command.Step, command.ToolKind, "RUNNING",
            new JsonObject { ["command_id"] = commandId },
            new JsonObject { ["status"] = "RUNNING", ["context"] = new JsonObject { ["command_id"] = commandId } },
            meta, null, workerId, commandId, eventId, claimedAt);
        turn.Events.Add(row);
        turn.CommandChanges.Add(new CommandChange(commandId, "CLAIMED", workerId, claimedAt, null, null, null, null, row.EventId));
        Fold(row);
        var failure = await CommitAsync(turn);
        if (failure is not null)
            return failure;

        command.Status = "CLAIMED";
        command.WorkerId = workerId;
        command.ClaimedAt = claimedAt;
        if (decision.ReclaimReason is not null)
            LogReclaimed(ExecutionId, commandId, LogText.Escape(workerId), LogText.Escape(previousHolder), decision.ReclaimReason);
        return JsonReplies.Ok(ClaimResponse(command, eventId, decision.ReclaimReason is null ? null : meta));
    }

    public Task<Reply> GetCommand(long eventId)
    {
        if (!Exists || !_commandByEvent.TryGetValue(eventId, out var commandId))
            return Task.FromResult(JsonReplies.NotFound($"command not found: {eventId}"));
        var command = _commands[commandId];
        return Task.FromResult(JsonReplies.Ok(new JsonObject
        {
            ["execution_id"] = ExecutionId,
            ["node_id"] = command.Step,
            ["node_name"] = command.Step,
            ["action"] = command.ToolKind,
            ["context"] = Redactor.Redact(command.Context),
            ["meta"] = Redactor.Redact(command.Meta),
            ["status"] = command.Status,
        }));
    }

    public async Task<Reply> Append(WorkerEvent workerEvent)
    {
        if (!Exists)
            return JsonReplies.NotFound($"Execution not found: {ExecutionId}");
        if (EventBinding.CheckPool(Caller.Current, Pool, ExecutionId) is { } foreignPool)
            return foreignPool;
        var turn = new Turn();
        var referenced = await ReferencedDataAsync([ReferenceIn(workerEvent)]);
        var outcome = Accept(workerEvent, turn, batchMeta: null, await SecretValuesAsync(), referenced);
        if (outcome.Rejection is not null)
            return outcome.Rejection;
        if (outcome.Duplicate)
            return JsonReplies.Ok(new JsonObject { ["status"] = "ok", ["event_id"] = outcome.EventId, ["commands_generated"] = 0 });
        var failure = await CommitAsync(turn);
        if (failure is not null)
            return failure;
        return JsonReplies.Ok(new JsonObject { ["status"] = "ok", ["event_id"] = outcome.EventId, ["commands_generated"] = outcome.Generated });
    }

    public async Task<Reply> AppendBatch(IReadOnlyList<WorkerEvent> events, string? workerId, string? idempotencyKey)
    {
        if (!Exists)
            return JsonReplies.NotFound($"Execution not found: {ExecutionId}");
        if (EventBinding.CheckPool(Caller.Current, Pool, ExecutionId) is { } foreignPool)
            return foreignPool;
        if (idempotencyKey is not null && _batches.TryGetValue(idempotencyKey, out var stored))
            return BatchReply(stored, commandsGenerated: 0, idempotencyKey, duplicate: true); // a replay stores nothing
        var secrets = await SecretValuesAsync();
        if (SecretInIdentifiers(secrets, ("worker_id", workerId), ("Idempotency-Key", idempotencyKey)) is { } leak)
            return leak;
        var requestId = ids.Next().ToString();
        var batchMeta = new JsonObject { ["batch_request_id"] = requestId, ["idempotency_key"] = idempotencyKey };
        var turn = new Turn();
        var outcomes = new List<Accepted>();
        var referenced = await ReferencedDataAsync(events.Select(ReferenceIn));
        foreach (var workerEvent in events)
        {
            var outcome = Accept(workerEvent with { WorkerId = workerEvent.WorkerId ?? workerId }, turn, batchMeta, secrets, referenced);
            if (outcome.Rejection is not null)
            {
                // Nothing of the batch is kept: rebuild from the log rather than unwind the folds.
                DeactivateOnIdle();
                return outcome.Rejection;
            }
            outcomes.Add(outcome);
        }
        var failure = await CommitAsync(turn);
        if (failure is not null)
            return failure;
        var batch = new StoredBatch(requestId, [.. outcomes.Select(o => o.EventId)]);
        if (idempotencyKey is not null)
            _batches[idempotencyKey] = batch; // the exact reply, duplicates within the batch included
        return BatchReply(batch, outcomes.Sum(o => o.Generated), idempotencyKey, duplicate: false);
    }

    private Reply BatchReply(StoredBatch batch, int commandsGenerated, string? idempotencyKey, bool duplicate) => new(ReplyStatus.Accepted, new JsonObject
    {
        ["status"] = "accepted",
        ["request_id"] = batch.RequestId,
        ["event_ids"] = new JsonArray([.. batch.EventIds.Select(id => (JsonNode)id)]),
        ["commands_generated"] = commandsGenerated,
        ["queue_depth"] = writer.QueueDepth, // turns of this silo waiting for a group commit
        ["duplicate"] = duplicate,
        ["idempotency_key"] = idempotencyKey,
    }.ToJsonString());

    public async Task<int> Project(string envelopesJson)
    {
        if (!Exists)
            return 0; // the directory checked the execution row; without a log there is nothing to project into
        // The system pool writes these: they pass the same scrubbing as every worker payload.
        var secrets = await SecretValuesAsync();
        var envelopes = (JsonNode.Parse(envelopesJson) as JsonArray ?? []).OfType<JsonObject>()
            .DistinctBy(e => WireIds.Read(e["event_id"]))
            .ToList();
        var present = await _log.PresentEventIdsAsync([.. envelopes.Select(e => WireIds.Read(e["event_id"])!.Value)]);
        var turn = new Turn();
        turn.ProjectedEvents.AddRange(envelopes.Where(e => !present.Contains(WireIds.Read(e["event_id"])!.Value)).Select(e => Scrub(e, secrets)));
        if (turn.ProjectedEvents.Count == 0)
            return 0;
        try
        {
            // Through the group commit, so the writer fence holds projections to this activation too.
            await writer.CommitAsync(ExecutionId, _writerEpoch, _catalog!.CatalogId, _parentExecutionId, turn);
        }
        finally
        {
            DeactivateOnIdle(); // the log changed beside the fold (or the turn failed): rebuild from it on the next call
        }
        return turn.ProjectedEvents.Count;
    }

    public Task<Reply> Status()
    {
        if (!Exists)
            return Task.FromResult(JsonReplies.NotFound("Execution not found"));
        var state = _state!;
        var end = _endTime;
        var duration = ((end ?? DateTime.UtcNow) - _startTime).TotalSeconds;
        var completedSteps = new JsonArray();
        foreach (var step in state.CompletedSteps)
            completedSteps.Add(step);
        return Task.FromResult(JsonReplies.Ok(new JsonObject
        {
            ["execution_id"] = ExecutionId.ToString(),
            ["path"] = _catalog!.Path,
            ["status"] = StatusText,
            ["current_step"] = state.CurrentStep,
            ["completed_steps"] = completedSteps,
            ["failed"] = StatusText is "FAILED",
            ["completed"] = IsTerminal,
            ["completion_inferred"] = false,
            ["error"] = state.Error,
            // Step results by name, ctx and the workload, as NoETL exposes them: the playbook tool reads return_step here.
            ["variables"] = Redactor.Redact(state.BuildRenderContext()),
            ["result"] = FinalResultNode(),
            ["start_time"] = WireTimes.Utc(_startTime),
            ["end_time"] = WireTimes.Utc(end),
            ["duration_seconds"] = Math.Round(duration, 3),
            ["duration_human"] = Durations.Human(duration),
            ["parent_execution_id"] = _parentExecutionId?.ToString(),
        }));
    }

    public Task<string?> FinalResult() => Task.FromResult(Exists ? FinalResultNode()?.ToJsonString() : null);

    /// <summary>
    /// What a completed execution produced, as NoETL's status reports it: the result of the step that finished last
    /// (redacted like every read path). Null while running, and for failed or cancelled executions (see <c>error</c>).
    /// </summary>
    private JsonNode? FinalResultNode()
    {
        if (StatusText != "COMPLETED")
            return null;
        var last = _state!.Steps.Values.Where(s => s.Status == StepStatus.Completed).MaxBy(s => s.FinishedAt);
        return Redactor.Redact(last?.Result?.DeepClone());
    }

    public Task<Reply> CancellationCheck()
    {
        if (!Exists)
            return Task.FromResult(JsonReplies.NotFound("Execution not found"));
        var status = StatusText;
        return Task.FromResult(JsonReplies.Ok(new JsonObject
        {
            ["execution_id"] = ExecutionId.ToString(),
            ["status"] = status,
            ["event_type"] = _lastEventType,
            ["cancelled"] = status == "CANCELLED",
            ["completed"] = status == "COMPLETED",
            ["failed"] = status == "FAILED",
        }));
    }

    private string StatusText => _state!.Status switch
    {
        ExecutionStatus.Completed => "COMPLETED",
        ExecutionStatus.Failed => "FAILED",
        ExecutionStatus.Cancelled => "CANCELLED",
        _ => "RUNNING",
    };
}
