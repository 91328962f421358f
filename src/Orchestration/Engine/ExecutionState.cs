using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NoEtl.Orchestration.Playbooks;

namespace NoEtl.Orchestration.Engine;

/// <summary>
/// The mutable fold of an execution's event log. <see cref="Apply"/> is incremental: each event touches only the step and command it names.
/// Decisions read this state and never modify it, so the grain must apply every persisted event, including the ones a decision emitted.
/// </summary>
public sealed class ExecutionState
{
    private Dictionary<string, StepState> _steps;
    private Dictionary<long, CommandState> _commands;
    private List<string> _completedOrder;
    private long _sequence;
    // The forgotten iterations' finishing events of loops a call may complete, by step, for the duration of that call.
    private IReadOnlyDictionary<string, IReadOnlyList<IterationFinish>>? _loopHistory;

    public ExecutionState(Playbook playbook)
    {
        Playbook = playbook;
        _steps = playbook.Steps.ToDictionary(s => s.Name, s => new StepState(s.Name), StringComparer.Ordinal);
        _commands = [];
        _completedOrder = [];
        Path = playbook.Path;
        Workload = (JsonObject)playbook.Workload.DeepClone();
    }

    public Playbook Playbook { get; }

    public ExecutionStatus Status { get; private set; } = ExecutionStatus.Running;

    /// <summary>True once <c>playbook.initialized</c> was applied.</summary>
    public bool IsInitialized { get; private set; }

    public long ExecutionId { get; private set; }

    public long CatalogId { get; private set; }

    public long? ParentExecutionId { get; private set; }

    public string Path { get; private set; }

    public int Version { get; private set; }

    public JsonObject Workload { get; private set; }

    /// <summary>The step most recently entered.</summary>
    public string? CurrentStep { get; private set; }

    /// <summary>Steps that completed at least once, in first-completion order.</summary>
    public IReadOnlyList<string> CompletedSteps => _completedOrder;

    public IReadOnlyList<string> FailedSteps =>
        Playbook.Steps.Where(s => _steps[s.Name].Status == StepStatus.Failed).Select(s => s.Name).ToList();

    /// <summary>Execution-scoped variables: the fold of <c>ctx.updated</c> and worker <c>_context_updates</c>, bare keys.</summary>
    public JsonObject Variables { get; private set; } = [];

    public string? Error { get; private set; }

    public long LastEventId { get; private set; }

    public IReadOnlyDictionary<string, StepState> Steps => _steps;

    public IReadOnlyDictionary<long, CommandState> Commands => _commands;

    public StepState Step(string name) => _steps[name];

    public bool AnyRunning => _steps.Values.Any(s => s.Status == StepStatus.Running);

    /// <summary>
    /// The execution-variable map NoETL calls <c>ctx</c> (workload keys, step results by name, <c>set</c> writes), as a new
    /// object: what the status page shows as <c>variables</c>.
    /// </summary>
    public JsonObject BuildRenderContext() => new ContextView(this).CtxCopy();

    public void Apply(LoggedEvent e)
    {
        _sequence++;
        LastEventId = Math.Max(LastEventId, e.EventId);
        switch (e.EventType)
        {
            case "playbook.initialized":
                Initialize(e.Context);
                break;
            case "step.enter":
                EnterStep(e);
                break;
            case "step.skipped":
                if (StepOf(e.NodeName) is { } skipped && skipped.Status != StepStatus.Running)
                {
                    skipped.Status = StepStatus.Skipped;
                    skipped.FinishedAt = _sequence;
                }
                break;
            case "ctx.updated":
                UpdateContext(e.Context);
                break;
            case "loop.done":
                if (StepOf(e.NodeName) is { } looped && ReadLong(e.Context?["gen"]) is { } loopGeneration)
                    looped.LoopDoneGeneration = (int)loopGeneration;
                break;
            case "command.issued":
                IssueCommand(e);
                break;
            case "call.done" or "command.completed":
                FinishCommand(e, succeeded: true);
                break;
            case "step.exit":
                if (CommandIdOf(e) is null)
                    ExitWithoutCommand(e);
                else
                    FinishCommand(e, succeeded: true);
                break;
            case "call.error" or "command.failed":
                FinishCommand(e, succeeded: false);
                break;
            case "workflow.completed" or "playbook.completed":
                Status = ExecutionStatus.Completed;
                break;
            case "workflow.failed" or "playbook.failed":
                Status = ExecutionStatus.Failed;
                Error ??= e.Error ?? ErrorText(e.Context);
                break;
            case "execution.cancelled" or "playbook.cancelled":
                Status = ExecutionStatus.Cancelled;
                break;
        }
    }

    private void Initialize(JsonObject? context)
    {
        IsInitialized = true;
        if (context is null)
            return;
        if (context["workload"] is JsonObject workload)
            Workload = (JsonObject)workload.DeepClone();
        if (context["playbook_path"] is JsonValue path && path.GetValueKind() == JsonValueKind.String)
            Path = path.GetValue<string>();
        ExecutionId = ReadLong(context["execution_id"]) ?? 0;
        CatalogId = ReadLong(context["catalog_id"]) ?? 0;
        ParentExecutionId = ReadLong(context["parent_execution_id"]);
        Version = (int)(ReadLong(context["version"]) ?? 0);
    }

    /// <summary>
    /// The engine enters only loop steps with step.enter (plain steps enter with their command.issued). Python workers also send
    /// step.enter for a running command; those carry no <c>iterations_expected</c> and change nothing.
    /// </summary>
    private void EnterStep(LoggedEvent e)
    {
        if (StepOf(e.NodeName) is not { } step || e.Context is not { } context || context["iterations_expected"] is null)
            return;
        Enter(step);
        step.Loop = new LoopRun(context["items"] is JsonArray items ? (JsonArray)items.DeepClone() : [], (string?)context["loop_event_id"], e.EventId);
    }

    private void Enter(StepState step)
    {
        step.Status = StepStatus.Running;
        step.EnteredAt = _sequence;
        step.Error = null;
        CurrentStep = step.Name;
    }

    private void UpdateContext(JsonObject? context)
    {
        if (context?["values"] is JsonObject values)
            Merge(values);
        if (StepOf((string?)context?["step"]) is { } step && context?["arc"] is null && ReadLong(context?["gen"]) is { } generation)
            step.SetGeneration = (int)generation;
    }

    private void Merge(JsonObject values)
    {
        foreach (var (key, value) in values)
            Variables[key] = value?.DeepClone();
    }

    private void IssueCommand(LoggedEvent e)
    {
        var meta = e.Meta;
        var stepName = (string?)meta?["step"] ?? e.NodeName;
        if (stepName?.EndsWith(Playbooks.Step.TaskSequenceSuffix, StringComparison.Ordinal) == true && StepOf(stepName) is null)
            stepName = stepName[..^Playbooks.Step.TaskSequenceSuffix.Length];
        if (CommandIdOf(e) is not { } commandId || StepOf(stepName) is not { } step || _commands.ContainsKey(commandId))
            return;
        var index = meta?["loop_step"] is not null ? (int?)ReadLong(meta["iteration_index"]) : null;
        _commands[commandId] = new CommandState(commandId, step.Name, index);
        if (index is not null && step.Loop is { } loop)
            loop.Dispatched++;
        else
            Enter(step);
    }

    private void FinishCommand(LoggedEvent e, bool succeeded)
    {
        if (CommandIdOf(e) is not { } commandId || !_commands.TryGetValue(commandId, out var command) || command.Outcome != CommandOutcome.Pending)
            return;
        command.Outcome = succeeded ? CommandOutcome.Succeeded : CommandOutcome.Failed;
        // A finished iteration is forgotten, so a long loop keeps no state per finished iteration: a repeat of its
        // finishing event finds no pending command either way, and a decision it triggers reads the iteration's data
        // from the event itself (DecisionBuilder.TriggerOutput).
        if (command.IterationIndex is not null)
            _commands.Remove(commandId);
        var step = _steps[command.Step];
        if (step.Status != StepStatus.Running)
            return;
        var error = succeeded ? null : e.Error ?? ErrorText(e.Context) ?? ErrorText(e.Result) ?? "command failed";
        if (command.IterationIndex is not { } index || step.Loop is not { } loop)
        {
            if (succeeded)
                Complete(step, Outcome(e, command.Step), e.Result ?? (JsonNode?)e.Context?["result"]);
            else
                Fail(step, error!);
            return;
        }
        loop.Finished++;
        if (succeeded)
        {
            loop.Record(index, Outcome(e, command.Step));
        }
        else
        {
            loop.Failed = true;
            loop.FailedCount++;
            step.Error ??= $"iteration {index}: {error}";
        }
        if (loop.Failed && loop.InFlight == 0)
            Fail(step, step.Error!);
        else if (!loop.Failed && loop.Finished >= loop.Total)
            Complete(step, LoopResult(step.Name, loop), null);
    }

    /// <summary>The result of a loop whose last iteration just finished, with the forgotten iterations' data read back from the log.</summary>
    private JsonObject LoopResult(string stepName, LoopRun loop)
    {
        if (loop.ForgottenResults == 0)
            return loop.Result([]);
        var history = _loopHistory?.GetValueOrDefault(stepName)
            ?? throw new InvalidOperationException($"loop step '{stepName}' completed without the log's finishing events of its {loop.ForgottenResults} earlier iterations");
        return loop.Result(history.Select(finish => (finish.Index, JsonBytes.Of(Data(finish.Event, stepName, out _)))));
    }

    /// <summary>
    /// Running loops that <paramref name="finishingEvents"/> more finishing events could complete and whose earlier
    /// iterations' data was forgotten: a call with that many must first hand in their finishing events
    /// (<see cref="SupplyLoopHistory"/>).
    /// </summary>
    public IReadOnlyList<LoopFanOut> LoopsFinishableBy(int finishingEvents) =>
        [.. _steps.Values
            .Where(s => s is { Status: StepStatus.Running, Loop: { Failed: false, ForgottenResults: > 0 } loop } && loop.Total - loop.Finished <= finishingEvents)
            .Select(s => new LoopFanOut(s.Name, s.Loop!.EnteredEventId))];

    /// <summary>
    /// Hands in, for the next events applied, each loop's iterations finished before them as the log holds them (event-id
    /// order): where a completing loop takes its forgotten iterations' data from. Null clears it.
    /// </summary>
    public void SupplyLoopHistory(IReadOnlyDictionary<string, IReadOnlyList<IterationFinish>>? history) => _loopHistory = history;

    /// <summary>
    /// Drops the data of the iterations finished so far (the owner calls it once their events are in the log): a long
    /// loop then holds no data per finished iteration, and its completion reads them back (<see cref="SupplyLoopHistory"/>).
    /// </summary>
    public void ForgetIterationData()
    {
        foreach (var step in _steps.Values)
            step.Loop?.Forget();
    }

    /// <summary>
    /// A successful command's result as the step's result (<see cref="Data"/>); a task sequence's <c>ctx</c> is written into
    /// the variables before the step's set and arcs, for every iteration of a loop too.
    /// </summary>
    private JsonNode? Outcome(LoggedEvent e, string stepName)
    {
        var data = Data(e, stepName, out var sequenceContext);
        if (sequenceContext is not null)
            Merge(sequenceContext);
        return data;
    }

    /// <summary>
    /// The user data of a successful command, with a task sequence's response promoted (<see cref="PromoteTaskSequence"/>);
    /// <paramref name="sequenceContext"/> is that response's <c>ctx</c>.
    /// </summary>
    private JsonNode? Data(LoggedEvent e, string stepName, out JsonObject? sequenceContext)
    {
        sequenceContext = null;
        var data = UserData(e);
        if (Playbook.FindStep(stepName) is not { IssuesTaskSequence: true } definition || data is not JsonObject response)
            return data;
        if (!(response.ContainsKey("results") || response.ContainsKey("ctx") || response.ContainsKey("_prev")))
        {
            // A worker that reports only {label: data} (no sequence response yet): its labels are the results, and stay
            // readable as step.label too.
            if (!TaskLabels(definition).Any(response.ContainsKey))
                return data;
            response["results"] = response.DeepClone();
        }
        sequenceContext = response["ctx"] as JsonObject;
        return PromoteTaskSequence(definition, response);
    }

    private static IEnumerable<string> TaskLabels(Playbooks.Step definition) =>
        definition.Tool is JsonArray tasks ? tasks.Select(t => (string?)t?["name"]).OfType<string>() : [definition.WrappedTaskName];

    /// <summary>
    /// NoETL's task-sequence step result (<c>events.py</c>): the last task's result mapping with the response
    /// <c>{status, _prev, results, ctx}</c> merged over it, plus a <c>context</c> copy of the response, so
    /// <c>{{ step.field }}</c> reads the last task's fields. The last task is <c>_prev</c>, else the last labelled result.
    /// </summary>
    private static JsonObject PromoteTaskSequence(Playbooks.Step definition, JsonObject response)
    {
        var last = response["_prev"] as JsonObject;
        if (last is null && response["results"] is JsonObject results)
            last = TaskLabels(definition).Reverse().Select(label => results[label]).OfType<JsonObject>().FirstOrDefault();
        var value = last is null ? new JsonObject() : (JsonObject)last.DeepClone();
        foreach (var (key, field) in response)
            value[key] = field?.DeepClone();
        value["context"] = response.DeepClone();
        return value;
    }

    /// <summary>An engine-emitted <c>step.exit</c> closes a loop step with no iterations.</summary>
    private void ExitWithoutCommand(LoggedEvent e)
    {
        if (StepOf(e.NodeName) is { Status: StepStatus.Running, Loop.Total: 0 } step)
            Complete(step, LoopRun.EmptyResult(), e.Result);
    }

    private void Complete(StepState step, JsonNode? data, JsonNode? envelope)
    {
        step.Status = StepStatus.Completed;
        step.FinishedAt = _sequence;
        step.Completions++;
        step.Result = data;
        step.Envelope = envelope?.DeepClone();
        if (step.Completions == 1)
            _completedOrder.Add(step.Name);
        if (data is JsonObject { } obj && obj["_context_updates"] is JsonObject updates)
            Merge(updates);
    }

    private void Fail(StepState step, string error)
    {
        step.Status = StepStatus.Failed;
        step.FinishedAt = _sequence;
        step.Error = error;
    }

    /// <summary>
    /// Rust <c>extract_user_data</c>: result.context.result.context.data, then result.context.data, then result.context, then the
    /// result. A result that is a <c>result_ref</c> reference resolves to <see cref="Referenced"/>.
    /// </summary>
    public static JsonNode? UserData(LoggedEvent e)
    {
        var result = e.Context?["result"] ?? e.Context?["response"] ?? e.Result;
        if (ResultReference(result) is { } reference)
            return Referenced((JsonObject)result!, reference, e.ReferencedData);
        if (result is not JsonObject envelope || envelope["context"] is not JsonObject context)
            return result?.DeepClone();
        if (context["result"] is JsonObject inner && inner["context"] is JsonObject innerContext && innerContext.ContainsKey("data"))
            return innerContext["data"]?.DeepClone();
        return context.ContainsKey("data") ? context["data"]?.DeepClone() : context.DeepClone();
    }

    /// <summary>
    /// The <c>{kind: "result_ref", ref, …}</c> reference of a worker result, if it is one. A reference without a <c>kind</c>
    /// (the result store's reply passed on as it is) counts too; any other kind is not a result-store reference.
    /// </summary>
    public static JsonObject? ResultReference(JsonNode? result) =>
        result is JsonObject { } envelope && envelope["reference"] is JsonObject reference
        && reference["ref"] is JsonValue refValue && refValue.GetValueKind() == JsonValueKind.String
        && (reference["kind"] is null || reference["kind"] is JsonValue kind && kind.TryGetValue<string>(out var text) && text == "result_ref")
            ? reference
            : null;

    /// <summary>
    /// NoETL's resolved reference (<c>events.py</c>): the stored mapping's keys at the top level, plus <c>data</c>, <c>_ref</c>,
    /// <c>reference</c>, <c>status</c> and the result's <c>context</c>, so <c>{{ step.rows }}</c> and <c>{{ step._ref }}</c> work.
    /// </summary>
    private static JsonObject Referenced(JsonObject result, JsonObject reference, JsonNode? data)
    {
        var value = data is JsonObject mapping ? (JsonObject)mapping.DeepClone() : new JsonObject();
        value["data"] = data?.DeepClone();
        value["_ref"] = reference["ref"]!.DeepClone();
        value["reference"] = reference.DeepClone();
        value["status"] = result["status"]?.DeepClone();
        value["context"] = result["context"] is JsonObject context ? context.DeepClone() : new JsonObject();
        return value;
    }

    private static long? CommandIdOf(LoggedEvent e) =>
        e.CommandId ?? ReadLong(e.Meta?["command_id"]) ?? ReadLong(e.Context?["command_id"]);

    private StepState? StepOf(string? name) => name is not null && _steps.TryGetValue(name, out var step) ? step : null;

    private static string? ErrorText(JsonObject? payload) => payload?["error"] switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonObject o when o["message"] is JsonValue m => m.ToString(),
        JsonNode other => other.ToJsonString(),
        null => (payload?["result"] as JsonObject)?["error"]?.ToString() ?? ((payload?["result"] as JsonObject)?["context"] as JsonObject)?["error"]?.ToString(),
    };

    /// <summary>Ids travel as strings or numbers.</summary>
    internal static long? ReadLong(JsonNode? node)
    {
        if (node is not JsonValue value)
            return null;
        return value.GetValueKind() switch
        {
            JsonValueKind.Number when value.TryGetValue<long>(out var l) => l,
            JsonValueKind.Number when value.TryGetValue<int>(out var i) => i,
            JsonValueKind.Number when value.TryGetValue<double>(out var d) => (long)d,
            JsonValueKind.String when long.TryParse(value.GetValue<string>(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) => parsed,
            _ => null,
        };
    }

    /// <summary>A copy the decision can advance with its own emissions, for steps that complete inside one decision.</summary>
    internal ExecutionState Clone()
    {
        var copy = (ExecutionState)MemberwiseClone();
        copy._steps = _steps.ToDictionary(p => p.Key, p => p.Value.Clone(), StringComparer.Ordinal);
        copy._commands = _commands.ToDictionary(p => p.Key, p => p.Value with { });
        copy._completedOrder = [.. _completedOrder];
        copy.Variables = (JsonObject)Variables.DeepClone();
        return copy;
    }
}
