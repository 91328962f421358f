using System.Text.Json;
using System.Text.Json.Nodes;
using NoEtl.Grains;
using NoEtl.Grains.Catalog;
using NoEtl.Grains.Commands;
using NoEtl.Grains.Executions;
using NoEtl.Grains.Executions.Aggregate;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Security;
using NoEtl.Orchestration.Engine;
using NoEtl.Orchestration.Playbooks;

namespace NoEtl.Orchestration.Tests.Engine;

/// <summary>
/// Runs an execution through the real <see cref="ExecutionAggregate"/> as its execution and one worker would: the start, a claim
/// of every command as soon as it is issued (workers claim on notification), then the worker events a test scripts, each
/// sent by the claim holder with its lease token. Every turn's rows are appended to <see cref="Log"/> as the execution commits
/// them and folded into <see cref="State"/> as a reactivated execution rebuilds them. Like the grain, the driver makes the
/// aggregate forget loop iterations' data once their turn is committed and hands the log's finishing events back when a
/// worker event may complete a loop.
/// </summary>
public sealed class ExecutionDriver
{
    private const long ExecutionId = 42;
    private const long CatalogId = 7;
    private const string WorkerId = "worker-1";
    private static readonly IReadOnlyCollection<string> NoSecrets = [];
    private static readonly Caller Operator = new("operator", Caller.OperatorRole, null, "POST /api/executions/{id}/cancel");
    private static readonly LeaseTokens Leases = new(KeyRing.Parse(Convert.ToBase64String(new byte[32])));

    private readonly ExecutionAggregate _aggregate;
    private readonly StepClock _clock = new();
    private readonly Caller _worker;
    private readonly PlaybookLimits? _limits;
    private readonly Dictionary<long, string> _leaseTokens = [];
    private readonly Dictionary<string, JsonNode?> _referenced = [];

    public ExecutionDriver(string yaml, JsonObject? payload = null, PlaybookLimits? limits = null)
    {
        var parsed = Playbook.Parse(PlaybookDocument.LoadYaml(yaml, limits), limits);
        Assert.True(parsed.IsValid, string.Join("; ", parsed.Errors.Select(e => $"{e.Path}: {e.Message}")));
        Playbook = parsed.Playbook!;
        State = new ExecutionState(Playbook);
        _limits = limits;
        _worker = new Caller("worker-token", Caller.WorkerRole, SystemPlaybooks.PoolOf(Playbook.Path), null);
        var options = new ServerOptions { RequireLeaseToken = true, Limits = limits ?? PlaybookLimits.Default };
        var workload = payload ?? [];
        var start = ExecutionAggregate.Start(ExecutionId, new CatalogPlaybook(CatalogId, Playbook.Path, 1, "Playbook", Playbook),
            new StartExecution(Playbook.Path, CatalogId, 1, workload.ToJsonString(), null), Playbook.Path, 1,
            (JsonObject)workload.DeepClone(), Caller.System, [], new AggregateContext(options, Leases, "silo-1", _clock));
        _aggregate = start.Aggregate;
        Commit(start.Turn);
    }

    public Playbook Playbook { get; }

    /// <summary>The fold of <see cref="Log"/>: what a execution activated now would rebuild.</summary>
    public ExecutionState State { get; }

    /// <summary>Every committed event row, in commit order (claims included).</summary>
    public List<LoggedEvent> Log { get; } = [];

    /// <summary>The issued commands, in issue order.</summary>
    public List<IssuedCommand> Commands { get; } = [];

    /// <summary>What the aggregate wrote for each worker event the script sent.</summary>
    public List<Reaction> Reactions { get; } = [];

    /// <summary>The execution's status as the aggregate reports it (RUNNING, COMPLETED, FAILED, CANCELLED).</summary>
    public string Status => _aggregate.StatusText;

    public bool IsTerminal => _aggregate.IsTerminal;

    /// <summary>The <c>playbook.completed</c> or <c>playbook.failed</c> row, once the execution ended.</summary>
    public LoggedEvent? Outcome => Log.LastOrDefault(e => e.EventType is "playbook.completed" or "playbook.failed");

    public long CommandOf(string step, int? iteration = null) =>
        Commands.Last(c => c.Step == step && (iteration is null || c.Iteration == iteration)).CommandId;

    /// <summary>The oldest command of <paramref name="step"/> without a call.done or call.error yet.</summary>
    public long OpenCommandOf(string step, int? iteration = null) =>
        OpenCommands().First(c => c.Step == step && (iteration is null || c.Iteration == iteration)).CommandId;

    /// <summary>Iteration indexes of <paramref name="step"/>'s open commands (see <see cref="OpenCommandOf"/>), ascending.</summary>
    public List<int> OpenIterations(string step) =>
        [.. OpenCommands().Where(c => c.Step == step && c.Iteration is not null).Select(c => c.Iteration!.Value).Order()];

    private IEnumerable<IssuedCommand> OpenCommands()
    {
        var finished = Log.Where(e => e.EventType is "call.done" or "call.error").Select(e => e.CommandId).ToHashSet();
        return Commands.Where(c => !finished.Contains(c.CommandId));
    }

    public Reaction Done(string step, JsonNode? data = null, int? iteration = null) => CallDone(OpenCommandOf(step, iteration), data);

    public Reaction CallDone(long commandId, JsonNode? data = null) => Worker("call.done", commandId, new JsonObject
    {
        ["command_id"] = commandId,
        ["result"] = new JsonObject { ["status"] = "ok", ["context"] = new JsonObject { ["data"] = data?.DeepClone() } },
    });

    /// <summary>A call.done whose result is a result-store reference; <paramref name="stored"/> is what the execution read for it.</summary>
    public Reaction DoneByReference(string step, JsonObject reference, JsonNode? stored)
    {
        var id = OpenCommandOf(step);
        var result = new JsonObject { ["status"] = "COMPLETED", ["reference"] = reference.DeepClone() };
        return Worker("call.done", id, new JsonObject { ["command_id"] = id, ["result"] = result }, stored);
    }

    public Reaction Completed(long commandId) => Worker("command.completed", commandId,
        new JsonObject { ["command_id"] = commandId, ["result"] = new JsonObject { ["status"] = "COMPLETED" } });

    public Reaction Error(string step, string error = "boom", int? iteration = null)
    {
        var id = OpenCommandOf(step, iteration);
        return Worker("call.error", id, new JsonObject
        {
            ["command_id"] = id,
            ["error"] = error,
            ["result"] = new JsonObject { ["status"] = "FAILED", ["context"] = new JsonObject { ["error"] = error } },
        });
    }

    public Reaction CommandFailed(long commandId, string error = "boom") =>
        Worker("command.failed", commandId, new JsonObject { ["command_id"] = commandId, ["error"] = error });

    /// <summary>Posts an event of the command's holder, as <c>POST /api/events</c> hands it to the execution.</summary>
    /// <param name="referencedData">What a <c>result_ref</c> in the payload points at in the result store.</param>
    public Reaction Worker(string name, long commandId, JsonObject payload, JsonNode? referencedData = null)
    {
        _clock.Tick();
        if (WorkerEvents.ResultRef(payload) is { } resultRef)
            _referenced[resultRef] = referencedData;
        var meta = new JsonObject { ["command_id"] = commandId, [EventBinding.LeaseTokenKey] = _leaseTokens[commandId] };
        var step = Commands.Single(c => c.CommandId == commandId).Step;
        var workerEvent = new WorkerEvent(step, name, payload.ToJsonString(), meta.ToJsonString(), WorkerId, true, false);
        var loopHistory = _aggregate.LoopsToRead([workerEvent]).ToDictionary(l => l.Step, IterationFinishes, StringComparer.Ordinal);
        var posted = _aggregate.Append(workerEvent, _worker, NoSecrets, _referenced, loopHistory);
        var accepted = posted.Reply.Value ?? throw new Xunit.Sdk.XunitException($"event refused: {posted.Reply.Failure}");
        if (posted.Turn is null)
        {
            // NoETL's idempotency: a repeated outcome of a command is answered with the first event and writes nothing.
            var first = accepted.EventId;
            return new Reaction(Log.FindIndex(e => e.EventId == first), []);
        }
        var reaction = Commit(posted.Turn);
        Reactions.Add(reaction);
        return reaction;
    }

    public void Cancel()
    {
        _clock.Tick();
        Commit(_aggregate.Cancel("cancelled by the test", cascade: false, Operator).Turn!);
    }

    /// <summary>
    /// What the grain reads from <c>noetl.event</c> for a loop the next event may complete
    /// (<c>ExecutionLog.ReadLoopHistoryAsync</c>): each iteration's first finishing event, in event-id order.
    /// </summary>
    public IReadOnlyList<IterationFinish> IterationFinishes(LoopFanOut loop)
    {
        var indexes = Log.Where(e => e.EventType == "command.issued" && e.EventId > loop.EnteredEventId && (string?)e.Meta?["loop_step"] == loop.Step)
            .ToDictionary(e => e.CommandId!.Value, e => (int)e.Meta!["iteration_index"]!);
        return [.. Log.Where(e => Orchestrator.IsTrigger(e.EventType) && e.CommandId is { } id && indexes.ContainsKey(id))
            .GroupBy(e => e.CommandId).Select(g => g.First()).OrderBy(e => e.EventId)
            .Select(e => new IterationFinish(indexes[e.CommandId!.Value], e))];
    }

    /// <summary>
    /// Appends the turn's rows to the log (the aggregate then forgets the iteration data they hold, as after a grain's
    /// commit), then claims the commands it issued; returns the turn's reaction.
    /// </summary>
    private Reaction Commit(Turn turn)
    {
        var first = Log.Count;
        foreach (var row in turn.Events)
        {
            AssertResultShape(row.Result);
            var logged = row.ToLogged(WorkerEvents.ResultRef(row.Context) is { } resultRef ? _referenced.GetValueOrDefault(resultRef) : null);
            Log.Add(logged);
            State.Apply(logged);
        }
        _aggregate.ForgetLoggedIterations();
        var reaction = new Reaction(first, Log[(first + 1)..]);
        foreach (var issued in turn.NewCommands)
        {
            var command = new IssuedCommand(issued);
            Commands.Add(command);
            var claim = _aggregate.Claim(command.EventId, WorkerId, null, _worker, NoSecrets, _clock.UtcNow, holder: null);
            var claimed = claim.Reply.Value ?? throw new Xunit.Sdk.XunitException($"claim refused: {claim.Reply.Failure}");
            _leaseTokens[command.CommandId] = claimed.LeaseToken;
            Commit(claim.Turn!);
        }
        return reaction;
    }

    /// <summary>The noetl.event chk_event_result_shape constraint.</summary>
    private static void AssertResultShape(JsonObject? result)
    {
        if (result is null)
            return;
        Assert.True(result["status"] is JsonValue s && s.GetValueKind() == JsonValueKind.String, "result.status must be a string");
        foreach (var (key, value) in result)
        {
            Assert.Contains(key, new[] { "status", "reference", "context" });
            if (key != "status")
                Assert.IsType<JsonObject>(value);
        }
    }

    /// <summary>A fresh fold of the first <paramref name="count"/> log rows.</summary>
    public ExecutionState Folded(int count)
    {
        var state = new ExecutionState(Playbook);
        foreach (var e in Log.Take(count))
            state.Apply(e);
        return state;
    }

    /// <summary>
    /// Folding any prefix of the log from scratch and deciding on its last row gives what the aggregate wrote after that
    /// row live: the engine's reaction to a worker event, and nothing for every other row.
    /// </summary>
    public void AssertEveryPrefixReplays()
    {
        var written = Reactions.ToDictionary(r => r.TriggerIndex, r => r.Emitted);
        for (var end = 0; end < Log.Count; end++)
        {
            var replayed = Orchestrator.Decide(Playbook, Folded(end + 1), Log[end], _limits);
            Assert.Equal(DecisionText.Of(written.GetValueOrDefault(end, [])), DecisionText.Of(replayed));
        }
    }

    /// <summary>The log as compact lines: <c>issue:step[i]</c>, <c>done:step</c>, <c>step.skipped:x</c>, <c>ctx.updated:x {json}</c>…</summary>
    /// <remarks>Claims are left out: every command is claimed once right after it is issued, which says nothing about the engine.</remarks>
    public List<string> Trace() => [.. Log.Where(e => e.EventType != "command.claimed").Select(Describe)];

    public static string Describe(LoggedEvent e) => e.EventType switch
    {
        "command.issued" => $"issue:{e.NodeName}{Iteration(e.Meta)}",
        "call.done" => $"done:{e.NodeName}",
        "call.error" => $"error:{e.NodeName}",
        "command.completed" => $"completed:{e.NodeName}",
        "command.failed" => $"failed:{e.NodeName}",
        "ctx.updated" => $"ctx.updated:{e.NodeName} {e.Context!["values"]!.ToJsonString()}",
        "step.enter" => $"step.enter:{e.NodeName}({e.Context?["iterations_expected"]})",
        "playbook.initialized" or "workflow.initialized" or "workflow.completed" or "playbook.completed" => e.EventType,
        "workflow.failed" or "playbook.failed" => $"{e.EventType}: {e.Error}",
        _ => $"{e.EventType}:{e.NodeName}",
    };

    // Keeps quotes and operators readable in the expected traces.
    private static readonly JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// <see cref="Trace"/> with each command's rendered input and tool config (without <c>kind</c>) appended when not empty:
    /// <c>issue:step[i] input={…} tool={…}</c>.
    /// </summary>
    public List<string> DetailedTrace() => [.. Log.Where(e => e.EventType != "command.claimed").Select(e =>
    {
        var line = Describe(e);
        if (e.EventType != "command.issued")
            return line;
        var command = Commands.Single(c => c.CommandId == e.CommandId);
        if (command.Input.Count > 0)
            line += $" input={command.Input.ToJsonString(Readable)}";
        var tool = (JsonObject)command.ToolConfig.DeepClone();
        tool.Remove("kind");
        if (tool.Count > 0)
            line += $" tool={tool.ToJsonString(Readable)}";
        return line;
    })];

    private static string Iteration(JsonObject? meta) => meta?["iteration_index"] is { } i ? $"[{i}]" : "";

    /// <summary>Hands out ids in order and a time that moves one second per scripted call.</summary>
    private sealed class StepClock : ITurnClock
    {
        private long _nextId = 1000;

        public long NextId() => _nextId++;

        public DateTime UtcNow { get; private set; } = new(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);

        public void Tick() => UtcNow = UtcNow.AddSeconds(1);
    }
}

/// <summary>
/// What the aggregate wrote in one turn after the worker event at <see cref="TriggerIndex"/> of the log (for a repeated
/// event: the first one, and nothing written).
/// </summary>
public sealed record Reaction(int TriggerIndex, IReadOnlyList<LoggedEvent> Emitted);

/// <summary>A command row as the aggregate issued it, with the parts the engine rendered.</summary>
public sealed record IssuedCommand(long CommandId, long EventId, string Step, string ToolKind, JsonObject Context, JsonObject Meta)
{
    public IssuedCommand(NewCommandRow row)
        : this(row.CommandId, row.EventId, row.Step, row.ToolKind, row.Context, row.Meta)
    {
    }

    public JsonObject ToolConfig => Context["tool_config"]!.AsObject();

    public JsonObject Input => Context["input"]!.AsObject();

    public JsonObject RenderContext => Context["render_context"]!.AsObject();

    public int? Iteration => (int?)Meta["iteration_index"];
}

/// <summary>A decision, or the rows written for one, as comparable text (commands by the parts the engine decides).</summary>
internal static class DecisionText
{
    // The meta an engine command carries (loop iterations); the aggregate adds its own keys beside them.
    private static readonly string[] EngineMetaKeys = ["loop_step", "iteration_index", "iteration_total", "iterator"];

    public static string Of(Decision decision) => new JsonArray([.. decision.Emissions.Select(emission => (JsonNode)(emission switch
    {
        EmitEvent e => Event(e.EventType, e.NodeName, e.Status, e.Context, e.Result, e.Error, e.Meta),
        IssueCommand c => Command(c.Step, c.ToolKind, c.ToolConfig, c.Input, c.RenderContext, c.Spec, c.Meta),
        _ => throw new InvalidOperationException(),
    }))]).ToJsonString();

    public static string Of(IEnumerable<LoggedEvent> rows) => new JsonArray([.. rows.Select(row => (JsonNode)(row.EventType == "command.issued"
        ? Command(row.NodeName!, (string)row.Meta!["tool_kind"]!, row.Context!["tool_config"], row.Context["input"], row.Context["render_context"],
            row.Context["spec"], new JsonObject([.. EngineMetaKeys.Where(row.Meta.ContainsKey).Select(k => KeyValuePair.Create(k, row.Meta[k]?.DeepClone()))]))
        : Event(row.EventType, row.NodeName, row.Status, row.Context, row.Result, row.Error, row.Meta)))]).ToJsonString();

    private static JsonObject Event(string type, string? node, string? status, JsonObject? context, JsonObject? result, string? error, JsonObject? meta) => new()
    {
        ["event"] = type,
        ["node"] = node,
        ["status"] = status,
        ["context"] = context?.DeepClone(),
        ["result"] = result?.DeepClone(),
        ["error"] = error,
        ["meta"] = meta?.DeepClone(),
    };

    private static JsonObject Command(string step, string kind, JsonNode? tool, JsonNode? input, JsonNode? context, JsonNode? spec, JsonObject meta) => new()
    {
        ["command"] = step,
        ["kind"] = kind,
        ["tool"] = tool?.DeepClone(),
        ["input"] = input?.DeepClone(),
        ["context"] = context?.DeepClone(),
        ["spec"] = spec?.DeepClone(),
        ["meta"] = meta.DeepClone(),
    };
}
