using Microsoft.Extensions.Logging;
using Npgsql;
using NoEtl.Grains.Catalog;
using NoEtl.Grains.Commands;
using NoEtl.Grains.Executions.Aggregate;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Keychain;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Security;
using NoEtl.Grains.Telemetry;
using Orleans.Placement;

namespace NoEtl.Grains.Executions;

/// <summary>
/// The single writer of one execution, as a shell around its <see cref="ExecutionAggregate"/>: it reads what a decision
/// needs (the log on activation, secrets, holders' liveness, stored results, a completing loop's iterations), lets the
/// aggregate decide, commits the turn through the <see cref="TurnWriter"/> and replies. Placement hashes the execution
/// id over the silos. If a commit fails the activation is dropped, so the next call rebuilds the aggregate from the log.
/// </summary>
[HashBasedPlacement]
public sealed class ExecutionGrain(
    NpgsqlDataSource database,
    SnowflakeIds ids,
    PlaybookCache playbooks,
    ServerOptions options,
    SecretCipher cipher,
    LeaseTokens leases,
    CommandLocations locations,
    TurnWriter writer,
    ILocalSiloDetails silo,
    ILogger<ExecutionGrain> logger) : Grain, IExecutionGrain, IRemindable
{
    private ExecutionLog _log = null!;
    private AggregateContext _context = null!;
    private long _writerEpoch;
    private ExecutionAggregate? _aggregate;
    private ResultStore _results = null!;
    private ChildCascade _cascade = null!;
    private InFlightReminder _reminder = null!;
    // Values of the credentials read for this execution, scrubbed from what it stores; reloaded when new ones are issued.
    private HashSet<string>? _secretValues;

    private long ExecutionId => this.GetPrimaryKeyLong();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _log = new ExecutionLog(database, ExecutionId);
        _context = new AggregateContext(options, leases, silo.SiloAddress.ToString(), new SystemTurnClock(ids));
        _reminder = new InFlightReminder(this, options, logger, ExecutionId);
        _cascade = new ChildCascade(this, GrainFactory, _log, options, logger);
        _results = new ResultStore(database, options, ExecutionId);
        _writerEpoch = await _log.TakeWriterEpochAsync(); // before reading: the log must include the previous writer's last turn
        var events = await _log.ReadEventsAsync();
        if (events.Count == 0)
            return;
        var catalogId = ExecutionAggregate.CatalogIdOf(ExecutionId, events);
        var catalog = await playbooks.GetAsync(catalogId)
            ?? throw new InvalidOperationException($"execution {ExecutionId}: catalog entry {catalogId} is gone");
        var names = new NamePool();
        var commands = await _log.ReadCommandsAsync(names);
        var referenced = await _log.ReferencedDataAsync(ExecutionAggregate.ReferencesIn(events));
        _aggregate = ExecutionAggregate.Rebuild(ExecutionId, catalog, events, commands, names, referenced, _context);
        _aggregate.ForgetLoggedIterations(); // the loops' iteration data is in the log just read
        ExecutionLogMessages.Rebuilt(logger, ExecutionId, events.Count, commands.Count);
        _reminder.Track(_aggregate is { HasCommandsInFlight: true }, SweepAsync);
        await _cascade.ResumeAsync(_aggregate);
    }

    public async Task<Outcome<ExecutionStarted>> Start(StartExecution request, long catalogId, string path, int version)
    {
        if (_aggregate is not null)
            return Failure.Conflict("already_started", $"execution {ExecutionId} already exists");
        if (await playbooks.GetAsync(catalogId) is not { } catalog)
            return Failure.NotFound($"Executable catalog entry not found: {path}");
        var workload = JsonInput.ParseObject(request.WorkloadJson) ?? [];
        var caller = Caller.Current;
        if (ExecutionAggregate.SystemPlaybookRefusal(catalog.Playbook, path, workload, caller) is { } refusal)
            return refusal;
        // Read before the turn, written by it: an execution never exists without its keychain entries.
        PlaybookKeychain.Outcome? keychain = null;
        if (catalog.Playbook.Keychain is { Count: > 0 } section)
            try { keychain = await PlaybookKeychain.ResolveAsync(database, cipher, writer, section, catalogId, ExecutionId, request.ParentExecutionId); }
            catch (Exception e) when (DatabaseUnavailable.CodeOf(e) is { } code) { return DatabaseUnavailable.Failure(code); }
        var start = ExecutionAggregate.Start(ExecutionId, catalog, request, path, version, workload, caller, keychain?.Rows ?? [], _context);
        _aggregate = start.Aggregate;
        try
        {
            if (await CommitAsync(start.Turn) is { } failure)
                return failure;
        }
        catch (Exception e) when (IdempotentStarts.IsDuplicate(e))
        {
            // A concurrent start under the same key committed first (this one is rolled back): answer with that one.
            if (await IdempotentStarts.FindAsync(database, request.IdempotencyKey!) is not { } winner)
                throw;
            return winner;
        }
        _secretValues = null; // the keychain entries' values are scrubbed from results from now on
        ExecutionLogMessages.Started(logger, ExecutionId, LogText.Escape(path), version, start.Generated);
        if (keychain?.Skipped is { Count: > 0 } skipped)
            ExecutionLogMessages.KeychainSkipped(logger, ExecutionId, LogText.Escape(string.Join(", ", skipped)));
        return new ExecutionStarted(ExecutionId, start.Generated);
    }

    public async Task<Outcome<CommandClaim>> Claim(long eventId, string workerId, JsonText? locality)
    {
        if (_aggregate is not { } execution)
            return ExecutionAggregate.CommandNotFound(eventId);
        var caller = Caller.Current;
        // An unknown command or a foreign pool is refused before the secrets are read, a secret as worker id after.
        if ((execution.ClaimRefusal(eventId, workerId, caller, []) ?? execution.ClaimRefusal(eventId, workerId, caller, await SecretValuesAsync())) is { } refusal)
            return refusal;
        var secrets = await SecretValuesAsync();
        var now = DateTime.UtcNow;
        HolderLiveness? holder = null;
        if (execution.HolderToCheck(eventId, workerId, now) is { } holderId)
        {
            try { holder = await _log.ReadLivenessAsync(holderId); }
            catch (Exception e) when (DatabaseUnavailable.CodeOf(e) is { } code) { return DatabaseUnavailable.Failure(code); }
        }
        var decision = execution.Claim(eventId, workerId, locality, caller, secrets, now, holder);
        if (decision.Turn is not null && await CommitAsync(decision.Turn) is { } failure)
            return failure;
        if (decision.Reclaim is { } reclaim)
            ExecutionLogMessages.Reclaimed(logger, ExecutionId, reclaim.CommandId, LogText.Escape(workerId), LogText.Escape(reclaim.From), reclaim.Reason);
        return decision.Reply;
    }

    public async Task<Outcome<CommandView>> GetCommand(long eventId)
    {
        if (_aggregate is not { } execution)
            return ExecutionAggregate.CommandNotFound(eventId);
        // A database error escapes, as for result reads: the route declares no 503 of its own.
        var stored = execution.CommandBodyToRead(eventId) is { } commandId ? await _log.ReadCommandBodyAsync(commandId) : null;
        return execution.GetCommand(eventId, stored);
    }

    public async Task<Outcome<EventAccepted>> Append(WorkerEvent workerEvent)
    {
        if (_aggregate is not { } execution)
            return Failure.NotFound($"Execution not found: {ExecutionId}");
        if (EventBinding.CheckPool(Caller.Current, execution.Pool, ExecutionId) is { } foreignPool)
            return foreignPool;
        var referenced = await _log.ReferencedDataAsync([ExecutionAggregate.ReferenceIn(workerEvent)]);
        var loopHistory = await _log.ReadLoopHistoryAsync(execution.LoopsToRead([workerEvent]));
        return await CommitAndReplyAsync(execution.Append(workerEvent, Caller.Current, await SecretValuesAsync(), referenced, loopHistory));
    }

    public async Task<Outcome<BatchAccepted>> AppendBatch(IReadOnlyList<WorkerEvent> events, string? workerId, string? idempotencyKey)
    {
        if (_aggregate is not { } execution)
            return Failure.NotFound($"Execution not found: {ExecutionId}");
        var caller = Caller.Current;
        if (execution.BatchReplay(caller, idempotencyKey, writer.QueueDepth) is { } replay)
            return replay; // a foreign pool, or a replay: it stores nothing
        var secrets = await SecretValuesAsync();
        var referenced = await _log.ReferencedDataAsync(events.Select(ExecutionAggregate.ReferenceIn));
        var loopHistory = await _log.ReadLoopHistoryAsync(execution.LoopsToRead(events));
        return await CommitAndReplyAsync(execution.AppendBatch(events, workerId, idempotencyKey, caller, secrets, referenced, writer.QueueDepth, loopHistory));
    }

    public async Task<int> Project(string envelopesJson)
    {
        if (_aggregate is not { } execution)
            return 0; // the directory checked the execution row; without a log there is nothing to project into
        // The system pool writes these: they pass the same scrubbing as every worker payload.
        var envelopes = ExecutionAggregate.ProjectionEnvelopes(envelopesJson);
        var present = await _log.PresentEventIdsAsync([.. envelopes.Select(ExecutionAggregate.EventIdOf)]);
        var turn = new Turn();
        turn.ProjectedEvents.AddRange(ExecutionAggregate.ProjectedEvents(envelopes, present, await SecretValuesAsync()));
        if (turn.ProjectedEvents.Count == 0)
            return 0;
        // The log changes beside the fold (or the turn fails): the next call rebuilds from it, once this one is done.
        DeactivateOnIdle();
        // Through the group commit, so the writer fence holds projections to this activation too.
        await writer.CommitAsync(ExecutionId, _writerEpoch, execution.Catalog.CatalogId, execution.ParentExecutionId, turn);
        return turn.ProjectedEvents.Count;
    }

    public Task<Outcome<ExecutionStatusReport>> Status() =>
        Task.FromResult<Outcome<ExecutionStatusReport>>(_aggregate is { } execution ? execution.Status() : ExecutionAggregate.ExecutionNotFound);

    public Task<string?> FinalResult() => Task.FromResult(_aggregate?.FinalResult()?.ToJsonString());

    public Task<Outcome<CancellationState>> CancellationCheck() =>
        Task.FromResult<Outcome<CancellationState>>(_aggregate is { } execution ? execution.CancellationCheck() : ExecutionAggregate.ExecutionNotFound);

    public async Task<Outcome<StoredResult>> StoreResult(ResultInput input) =>
        (ResultRefusal("store results for it") ?? _results.TooLarge(input)) is { } refusal ? refusal : await _results.StoreAsync(input, await SecretValuesAsync());

    public async Task<Outcome<ResultView>> ReadResult(string? name, string? reference) =>
        ResultRefusal("read its results") is { } refusal ? refusal : await _results.ReadAsync(name, reference);

    /// <summary>Only the execution's own pool stores or reads its results.</summary>
    private Failure? ResultRefusal(string action) => _aggregate is not { } execution
        ? ExecutionAggregate.ExecutionNotFound
        : EventBinding.CheckPool(Caller.Current, execution.Pool, ExecutionId, action);

    public Task SecretsIssued()
    {
        _secretValues = null; // reload on the next stored result
        return Task.CompletedTask;
    }

    private async Task<IReadOnlyCollection<string>> SecretValuesAsync() => _secretValues ??= await _log.ReadSecretValuesAsync(cipher);

    /// <summary>Commits the decision's turn (if any) and answers its reply, or the commit's failure.</summary>
    private async Task<Outcome<T>> CommitAndReplyAsync<T>(TurnDecision<T> decision)
        where T : class
    {
        if (decision.Dirty)
            DeactivateOnIdle(); // the aggregate folded rows that are not committed: rebuild from the log rather than unwind
        return decision.Turn is not null && await CommitAsync(decision.Turn) is { } failure ? failure : decision.Reply;
    }

    private async Task<Failure?> CommitAsync(Turn turn)
    {
        var execution = _aggregate!;
        try
        {
            await writer.CommitAsync(ExecutionId, _writerEpoch, execution.Catalog.CatalogId, execution.ParentExecutionId, turn);
        }
        catch (Exception e)
        {
            // The folds of this turn are in memory only: drop the activation so the next call rebuilds from the log.
            DeactivateOnIdle();
            if (e is StaleWriterException)
                ExecutionLogMessages.Superseded(logger, ExecutionId, _writerEpoch);
            else if (e is not CommitQueueFullException) // seen in noetl_commit_queue_depth; a line per refused turn adds to the overload
                ExecutionLogMessages.CommitFailed(logger, e, ExecutionId);
            if (DatabaseUnavailable.CodeOf(e) is { } code)
                return DatabaseUnavailable.Failure(code);
            throw;
        }
        if (_writerEpoch == ExecutionLog.UnclaimedWriterEpoch)
            _writerEpoch = ExecutionLog.FirstWriterEpoch; // that commit created the execution's writer row
        execution.ForgetLoggedIterations(); // the turn's iteration data is in the log now
        NoEtlMetrics.TurnCommitted(turn, execution.Pool);
        foreach (var issued in turn.NewCommands)
            locations.Remember(issued.EventId, ExecutionId);
        if (turn.Outbox.Count > 0)
            GrainFactory.Reference<IOutboxGrain>(0).RowsCommitted().Ignore();
        _reminder.Track(_aggregate is { HasCommandsInFlight: true }, SweepAsync);
        return null;
    }

    public async Task<Outcome<Cancellation>> Cancel(string reason, bool cascade)
    {
        if (_aggregate is not { } execution)
            return ExecutionAggregate.ExecutionNotFound;
        var decision = execution.Cancel(reason, cascade, Caller.Current);
        if (decision.Turn is not null && await CommitAsync(decision.Turn) is { } failure)
            return failure;
        var cascaded = execution.OwedCascade is null ? [] : await _cascade.RunAsync(execution);
        if (!decision.AlreadyFinished)
            ExecutionLogMessages.Cancelled(logger, ExecutionId, cascaded.Count + 1);
        return execution.CancelReply(decision, cascaded);
    }

    // An activation is all it takes: OnActivateAsync rebuilds the aggregate and starts the reaper if commands are in flight.
    public Task Wake() => Task.CompletedTask;

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != InFlightReminder.Name)
            return;
        _reminder.Ticked();
        if (_aggregate is not { HasCommandsInFlight: true })
            await _reminder.ForgetAsync();
    }

    // The reaper's sweep (InFlightReminder.Track): commits the re-notifications the aggregate finds due.
    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        var execution = _aggregate!;
        var now = DateTime.UtcNow;
        await _reminder.KeepAsync(now);
        var holders = new Dictionary<string, HolderLiveness?>();
        foreach (var worker in execution.HoldersToSweep(now))
            holders[worker] = await _log.ReadLivenessAsync(worker);
        var sweep = execution.Sweep(now, holders);
        foreach (var (commandId, reason) in sweep.Renotified)
            ExecutionLogMessages.Renotified(logger, ExecutionId, commandId, reason);
        if (sweep.Turn is not null)
            await CommitAsync(sweep.Turn);
    }
}
