using System.Text.Json.Nodes;
using NoEtl.Grains.Catalog;
using NoEtl.Grains.Commands;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Executions.Aggregate;

/// <summary>
/// One execution as a value: the fold of its log (events and command rows) and every decision its grain makes. Each
/// decision folds the rows it produces and hands them back in a <see cref="Turn"/> for the grain to commit; nothing here
/// reads the database, a clock or an id generator of its own (<see cref="AggregateContext"/>). If a turn is not committed
/// the grain drops the aggregate and rebuilds it from the log.
/// </summary>
public sealed partial class ExecutionAggregate
{
    private static readonly HashSet<string> TerminalEventTypes =
        ["playbook.completed", "playbook.failed", "workflow.completed", "workflow.failed", "execution.cancelled"];

    private readonly Dictionary<long, CommandRecord> _commands = [];
    private readonly Dictionary<long, long> _commandByEvent = [];
    // The first stored event of a deduplicated name whose step is not its command's (CommandRecord keeps the others).
    private readonly Dictionary<(string Name, string Step, long CommandId), long> _firstWorkerEvent = [];
    private readonly NamePool _names;
    // Event batches stored under an Idempotency-Key, by key: a replay is answered from here (rebuilt from event meta).
    private readonly Dictionary<string, StoredBatch> _batches = [];
    private readonly AggregateContext _context;
    private readonly ExecutionState _state;
    private long _lastEventId;
    private string? _lastEventType;
    private string? _lastNodeName;
    private DateTime? _endTime;
    private string? _terminalEventType;

    private ExecutionAggregate(long executionId, CatalogPlaybook catalog, long? parentExecutionId, DateTime startTime, AggregateContext context,
        NamePool names)
    {
        _names = names;
        ExecutionId = executionId;
        Catalog = catalog;
        ParentExecutionId = parentExecutionId;
        StartTime = startTime;
        _context = context;
        _state = new ExecutionState(catalog.Playbook);
    }

    public long ExecutionId { get; }

    public CatalogPlaybook Catalog { get; }

    public long? ParentExecutionId { get; }

    public DateTime StartTime { get; }

    public bool IsTerminal => _terminalEventType is not null;

    /// <summary>Commands of <c>system/*</c> playbooks go to the system pool only (noetl-api.md §2.7).</summary>
    public string Pool => SystemPlaybooks.PoolOf(Catalog.Path);

    public IReadOnlyCollection<CommandRecord> Commands => _commands.Values;

    /// <summary>Commands in flight: the reaper sweeps while there are any.</summary>
    public bool HasCommandsInFlight => !IsTerminal && _commands.Values.Any(c => !c.IsTerminal);

    public string StatusText => _state.Status switch
    {
        ExecutionStatus.Completed => "COMPLETED",
        ExecutionStatus.Failed => "FAILED",
        ExecutionStatus.Cancelled => "CANCELLED",
        _ => "RUNNING",
    };

    private ServerOptions Options => _context.Options;

    /// <summary>The time as the log stores it (UTC, without a kind).</summary>
    private DateTime Now => DateTime.SpecifyKind(_context.Clock.UtcNow, DateTimeKind.Unspecified);

    /// <summary>The catalog entry an execution's log was started from (its <c>playbook.initialized</c>).</summary>
    public static long CatalogIdOf(long executionId, IReadOnlyList<EventRow> events)
    {
        var initialized = InitializedOf(executionId, events);
        return WireIds.Read(initialized.Context?["catalog_id"])
            ?? throw new InvalidOperationException($"execution {executionId}: playbook.initialized lacks catalog_id");
    }

    /// <param name="names">The pool <paramref name="commands"/> were read with: the records made later share its strings.</param>
    /// <param name="referenced">What the <c>result_ref</c>s among the events point at (<see cref="ReferencesIn(IEnumerable{EventRow})"/>).</param>
    public static ExecutionAggregate Rebuild(long executionId, CatalogPlaybook catalog, IReadOnlyList<EventRow> events,
        IEnumerable<CommandRecord> commands, NamePool names, IReadOnlyDictionary<string, JsonNode?> referenced, AggregateContext context)
    {
        var initialized = InitializedOf(executionId, events);
        var aggregate = new ExecutionAggregate(executionId, catalog, WireIds.Read(initialized.Context?["parent_execution_id"]),
            initialized.CreatedAt, context, names);
        foreach (var command in commands)
        {
            aggregate._commands[command.CommandId] = command;
            aggregate._commandByEvent[command.EventId] = command.CommandId;
        }
        foreach (var row in events)
            aggregate.Fold(row, ReferencedBy(row, referenced));
        return aggregate;
    }

    private static JsonNode? ReferencedBy(EventRow row, IReadOnlyDictionary<string, JsonNode?> referenced) =>
        WorkerEvents.ResultRef(row.Context) is { } resultRef ? referenced.GetValueOrDefault(resultRef) : null;

    /// <summary>
    /// The running loops that <paramref name="events"/> may complete and whose finished iterations' data this aggregate
    /// forgot (<see cref="ForgetLoggedIterations"/>): the grain reads their iterations' finishing events
    /// (<see cref="IterationFinishes"/>) and hands them to the call as its loop history.
    /// </summary>
    public IReadOnlyList<LoopFanOut> LoopsToRead(IEnumerable<WorkerEvent> events) =>
        _state.LoopsFinishableBy(events.Count(e => Orchestrator.IsTrigger(e.Name)));

    /// <summary>A loop's finished iterations read from the log, with what their <c>result_ref</c>s point at.</summary>
    public static IReadOnlyList<IterationFinish> IterationFinishes(IEnumerable<(int Index, EventRow Row)> rows,
        IReadOnlyDictionary<string, JsonNode?> referenced) =>
        [.. rows.Select(r => new IterationFinish(r.Index, r.Row.ToLogged(ReferencedBy(r.Row, referenced))))];

    /// <summary>
    /// Drops the data of the loop iterations folded so far: the grain calls it once they are in the log (after a rebuild and
    /// after each commit), so a long loop holds no data per finished iteration. A loop's last iteration then needs its
    /// history (<see cref="LoopsToRead"/>).
    /// </summary>
    public void ForgetLoggedIterations() => _state.ForgetIterationData();

    private static EventRow InitializedOf(long executionId, IReadOnlyList<EventRow> events) =>
        events.FirstOrDefault(e => e.EventType == "playbook.initialized")
        ?? throw new InvalidOperationException($"execution {executionId} has events but no playbook.initialized");

    /// <summary>The result-store refs of logged events, for the grain to read before <see cref="Rebuild"/>.</summary>
    public static IEnumerable<string?> ReferencesIn(IEnumerable<EventRow> events) => events.Select(e => WorkerEvents.ResultRef(e.Context));

    /// <summary>
    /// The first turn of an execution: <c>playbook.initialized</c>, the engine's first decision, the keychain rows the
    /// grain resolved and, under an <c>Idempotency-Key</c>, the request row — all in one transaction.
    /// </summary>
    public static StartDecision Start(long executionId, CatalogPlaybook catalog, StartExecution request, string path, int version,
        JsonObject workload, Caller caller, IReadOnlyList<Keychain.KeychainRow> keychain, AggregateContext context)
    {
        var aggregate = new ExecutionAggregate(executionId, catalog, request.ParentExecutionId,
            DateTime.SpecifyKind(context.Clock.UtcNow, DateTimeKind.Unspecified), context, new NamePool());
        var turn = new Turn();
        var decision = Orchestrator.Start(catalog.Playbook, executionId, catalog.CatalogId, path, version, workload, request.ParentExecutionId,
            context.Options.Limits);
        var generated = aggregate.Record(decision, turn, parentEventId: null, triggeredBy: "execute");
        // Who started it: the internal API credits projections of this execution to that principal.
        turn.Events.First(e => e.EventType == "playbook.initialized").Context!["started_by"] =
            new JsonObject { ["principal"] = caller.Principal, ["role"] = caller.Role, ["pool"] = caller.Pool };
        turn.Keychain.AddRange(keychain);
        if (request.IdempotencyKey is { } key)
            turn.Request = new ExecutionRequestRow(key, generated);
        return new StartDecision(aggregate, turn, generated);
    }

    /// <summary>User pools may not start system playbooks, and nobody may override the workload keys they fix.</summary>
    public static Failure? SystemPlaybookRefusal(Playbook playbook, string path, JsonObject workload, Caller caller)
    {
        if (!SystemPlaybooks.IsSystemPath(path))
            return null;
        if (!SystemPlaybooks.MayExecute(caller))
            return Failure.Forbidden(SystemPlaybooks.RefusalCode, $"{path} is a system playbook: pool '{caller.Pool}' may not start it");
        var fixedKeys = SystemPlaybooks.FixedKeys(playbook.Document).Where(workload.ContainsKey).ToList();
        return fixedKeys.Count == 0
            ? null
            : Failure.Invalid([.. fixedKeys.Select(key =>
                new FieldFailure($"body.workload.{key}", $"'{key}' is fixed by the system playbook {path} and cannot be overridden"))]);
    }

    /// <param name="referencedData">What a <c>result_ref</c> in the row's payload points at.</param>
    private LoggedEvent Fold(EventRow row, JsonNode? referencedData = null)
    {
        var logged = row.ToLogged(referencedData);
        _state.Apply(logged);
        _lastEventId = Math.Max(_lastEventId, row.EventId);
        _lastEventType = row.EventType;
        _lastNodeName = row.NodeName;
        if (_terminalEventType is null && TerminalEventTypes.Contains(row.EventType))
        {
            _terminalEventType = row.EventType;
            _endTime = row.CreatedAt;
            if (row.EventType == "execution.cancelled" && row.Meta?["cascade"] is JsonValue cascade && cascade.TryGetValue<bool>(out var owed) && owed)
                OwedCascade = row.Error ?? "Parent execution cancelled";
        }
        // Events under their command's step are remembered by the command itself, a few bytes each; the index holds the
        // rest (a step other than the command's), with the name set's strings rather than the row's copies.
        if (row.CommandId is { } commandId && DeduplicatedEvents.Names.TryGetValue(row.EventType, out var name))
        {
            if (_commands.TryGetValue(commandId, out var issued) && issued.Step == row.NodeName)
                issued.RememberFirstEvent(name, row.EventId);
            else
                _firstWorkerEvent.TryAdd((name, row.NodeName ?? "", commandId), row.EventId);
        }
        if (row.Meta?["idempotency_key"] is JsonValue key && key.TryGetValue<string>(out var batchKey)
            && row.Meta["batch_request_id"] is JsonValue request && request.TryGetValue<string>(out var requestText)
            && long.TryParse(requestText, out var requestId))
        {
            if (!_batches.TryGetValue(batchKey, out var batch))
                _batches[batchKey] = batch = new StoredBatch(requestId, []);
            batch.EventIds.Add(row.EventId);
        }
        if (row.EventType == "command.claimed" && row.CommandId is { } claimed && _commands.TryGetValue(claimed, out var record))
            record.LeaseEpoch++;
        return logged;
    }

    /// <summary>The first stored event of a deduplicated <paramref name="name"/> for a command under a step, if any.</summary>
    private long? FirstWorkerEvent(string name, string step, long commandId) =>
        _commands.TryGetValue(commandId, out var command) && command.Step == step
            ? command.FirstEvent(name)
            : _firstWorkerEvent.TryGetValue((name, step, commandId), out var first) ? first : null;

    /// <summary>Turns an engine decision into rows; returns the number of commands issued.</summary>
    private int Record(Decision decision, Turn turn, long? parentEventId, string triggeredBy)
    {
        var generated = 0;
        var now = Now;
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
        var commandId = _context.Clock.NextId();
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
            ["catalog_id"] = Catalog.CatalogId.ToString(),
            ["actionable"] = true,
            ["triggered_by"] = triggeredBy,
            ["issued_by_silo"] = _context.Silo, // which shard owned the execution, for operators
        };
        foreach (var (key, value) in issued.Meta)
            meta[key] = value?.DeepClone();

        var row = new EventRow(eventId, "command.issued", issued.Step, issued.ToolKind, "PENDING", context, null, meta, null, null,
            commandId, parentEventId, now);
        turn.Events.Add(row);
        turn.NewCommands.Add(new NewCommandRow(commandId, eventId, issued.Step, issued.ToolKind, context, meta, now));
        var command = new CommandRecord(commandId, eventId, issued.Step, _names.Shared(issued.ToolKind), context, meta, 1) { NotifiedAt = _context.Clock.UtcNow };
        _commands[commandId] = command;
        _commandByEvent[eventId] = commandId;
        turn.Outbox.Add(new OutboxRow(eventId, Subject, Notification(command)));
        Fold(row);
    }

    /// <summary>Event ids order the log, so they must grow within an execution even across silos' clocks.</summary>
    private long NextEventId() => Math.Max(_context.Clock.NextId(), _lastEventId + 1);

    private ExecutionProjection Projection() =>
        new(StatusText, _lastEventId, _lastEventType, _lastNodeName, StartTime, _endTime, _state.Error);

    private string Subject => $"{Options.CommandSubject}.{Pool}.{ExecutionId}";

    /// <summary>The NATS notification of NoETL's contract (§1.4); re-notifications repeat the original event id.</summary>
    private JsonObject Notification(CommandRecord command) => new()
    {
        ["execution_id"] = ExecutionId,
        ["event_id"] = command.EventId,
        ["command_id"] = command.CommandId,
        ["step"] = command.Step,
        ["server_url"] = Options.ServerUrl,
    };
}
