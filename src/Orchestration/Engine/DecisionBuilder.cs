using System.Text.Json;
using System.Text.Json.Nodes;
using NoEtl.Orchestration.Playbooks;
using NoEtl.Orchestration.Templates;

namespace NoEtl.Orchestration.Engine;

/// <summary>
/// Computes one decision (noetl-dsl.md §2.6). It runs in rounds: a round applies pending step <c>set:</c>s, continues loops,
/// routes completed steps and checks completion. A loop over an empty collection completes inside the decision, so its
/// emissions are applied to a private copy of the state and another round routes onward from it.
/// </summary>
internal sealed class DecisionBuilder
{
    private const int MaxRounds = 256;

    private readonly Playbook _playbook;
    private readonly TemplateLimits _limits;
    private readonly int _maxLoopItems;
    private readonly RenderOptions _rendering;
    private readonly RenderOptions _commandRendering;
    private readonly WorkflowGraph _graph;
    private readonly List<Emission> _emissions = [];
    private readonly LoggedEvent? _trigger;
    private ExecutionState _state;
    private bool _ownsState;
    private int _applied;
    private long _syntheticCommandId;
    private ContextView _view;
    private bool _completedInline;
    private bool _dispatchedThisRound;

    // The step being rendered, named in the failure message when a template or loop collection is invalid.
    private string? _currentStep;

    /// <param name="trigger">The event this decision reacts to (null for the first turn): commands see it as <c>event</c>.</param>
    public DecisionBuilder(Playbook playbook, ExecutionState state, bool ownsState, PlaybookLimits limits, LoggedEvent? trigger = null)
    {
        _trigger = trigger;
        _playbook = playbook;
        _limits = limits.Templates;
        _maxLoopItems = limits.MaxLoopItems;
        _rendering = new RenderOptions(Limits: _limits);
        _commandRendering = new RenderOptions(DeferKeychain: true, Limits: _limits);
        _graph = WorkflowGraph.For(playbook);
        _state = state;
        _ownsState = ownsState;
        _view = new ContextView(state);
    }

    public Decision Start(IReadOnlyList<EmitEvent> initialization)
    {
        _emissions.AddRange(initialization);
        AdvanceState();
        return Run(() => Dispatch(_playbook.FindStep(_playbook.EntryStep)!));
    }

    public Decision Continue() => Run(null);

    private Decision Run(Action? firstAction)
    {
        try
        {
            for (var round = 0; round < MaxRounds; round++)
            {
                _completedInline = false;
                _dispatchedThisRound = false;
                if (round == 0)
                    firstAction?.Invoke();
                if (RunRound() is { } finished)
                    return finished;
                if (!_completedInline)
                    return new Decision(_emissions, null);
                AdvanceState();
            }
            return Fail(null, $"routing did not settle within {MaxRounds} rounds (a cycle of empty loops?)");
        }
        catch (TemplateException e)
        {
            return Fail(_currentStep, $"step '{_currentStep}': template error: {e.Message}");
        }
        catch (LoopCollectionException e)
        {
            return Fail(_currentStep, e.Message);
        }
    }

    /// <summary>One round; returns the final decision when the execution ends in it.</summary>
    private Decision? RunRound()
    {
        if (_state.Steps.Values.Any(s => s.Status == StepStatus.Failed || (s.Loop is { Failed: true } && s.Status == StepStatus.Running)))
        {
            // No arcs leave a failed step and nothing new starts; the execution fails once no command is out any more.
            // A loop step stays running while its undispatched iterations wait, but those will never be issued now.
            return _state.Steps.Values.Any(HasCommandsOut) ? new Decision(_emissions, null) : Fail(null, null);
        }
        EmitLoopsDone();
        ApplyStepSets();
        ContinueLoops();
        Route();
        if (_completedInline || _dispatchedThisRound || _state.AnyRunning)
            return null;
        return Complete();
    }

    private static bool HasCommandsOut(StepState step) => step.Status == StepStatus.Running && (step.Loop is null || step.Loop.InFlight > 0);

    // ---- loop.done --------------------------------------------------------------------------------

    /// <summary>
    /// NoETL's <c>loop.done</c>, once per completion of a loop step, before its set and arcs: its payload carries the loop
    /// result as <c>result</c>; <c>gen</c> is the completion count, so a replay does not emit it again.
    /// </summary>
    private void EmitLoopsDone()
    {
        foreach (var definition in _playbook.Steps.Where(s => s.Loop is not null))
        {
            var state = _state.Step(definition.Name);
            if (state.Status != StepStatus.Completed || state.LoopDoneGeneration >= state.Completions)
                continue;
            _emissions.Add(new EmitEvent("loop.done", definition.Name, "COMPLETED", Context: new JsonObject
            {
                ["step"] = definition.Name,
                ["gen"] = state.Completions,
                ["result"] = state.Result?.DeepClone(),
            }));
        }
    }

    // ---- set: -------------------------------------------------------------------------------------

    /// <summary>Step-level <c>set:</c>, once per completion, persisted as <c>ctx.updated {step, gen, values}</c>.</summary>
    private void ApplyStepSets()
    {
        var due = _playbook.Steps
            .Where(s => s.Set is not null)
            .Select(s => (Definition: s, State: _state.Step(s.Name)))
            .Where(p => p.State.Status == StepStatus.Completed && p.State.SetGeneration < p.State.Completions)
            .OrderBy(p => p.State.FinishedAt);
        foreach (var (definition, state) in due)
        {
            _currentStep = definition.Name;
            var values = RenderSet(definition.Set!, OutputScope(definition, state));
            _emissions.Add(new EmitEvent("ctx.updated", definition.Name, "COMPLETED", Context: new JsonObject
            {
                ["step"] = definition.Name,
                ["gen"] = state.Completions,
                ["values"] = values,
            }));
        }
    }

    /// <summary>Renders a <c>set:</c> block, strips <c>ctx.</c>/<c>iter.</c>/<c>step.</c> and writes the values into this decision's context.</summary>
    private JsonObject RenderSet(JsonObject set, EngineScope scope)
    {
        var values = new JsonObject();
        foreach (var (key, template) in set)
        {
            var name = StripScope(key);
            var value = Template.RenderValue(template, scope, _rendering);
            values[name] = value;
            _view.Write(name, value);
        }
        return values;
    }

    private static string StripScope(string key)
    {
        foreach (var prefix in new[] { "ctx.", "iter.", "step." })
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal))
                return key[prefix.Length..];
        }
        return key;
    }

    /// <summary>The scope a completed step's arcs and sets see: the context plus <c>output</c> and <c>event</c>.</summary>
    private EngineScope OutputScope(Step definition, StepState state) => new(_view, new Dictionary<string, JsonNode?>
    {
        ["output"] = state.Result,
        ["event"] = new JsonObject { ["name"] = definition.Loop is null ? "call.done" : "loop.done" },
    });

    // ---- loops ------------------------------------------------------------------------------------

    private void ContinueLoops()
    {
        foreach (var definition in _playbook.Steps.Where(s => s.Loop is not null))
        {
            var state = _state.Step(definition.Name);
            if (state is { Status: StepStatus.Running, Loop: { Failed: false } run })
            {
                _currentStep = definition.Name;
                DispatchIterations(definition, run.Items, run.Dispatched, run.Finished, run.LoopEventId);
            }
        }
    }

    /// <summary>Issues iterations from <paramref name="next"/> while the in-flight budget allows (sequential: 1, parallel: max_in_flight or all).</summary>
    private void DispatchIterations(Step definition, JsonArray items, int next, int finished, string? loopEventId)
    {
        var loop = definition.Loop!;
        var budget = loop.Mode == LoopMode.Sequential ? 1 : loop.MaxInFlight ?? items.Count;
        for (; next < items.Count && next - finished < budget; next++)
        {
            _emissions.Add(BuildCommand(definition, new Iteration(loop.Iterator, items[next], next, items.Count, loopEventId)));
            _dispatchedThisRound = true;
        }
    }

    /// <summary>One loop iteration of a command.</summary>
    private sealed record Iteration(string Iterator, JsonNode? Item, int Index, int Total, string? LoopEventId)
    {
        /// <summary>
        /// NoETL's iteration bindings (<c>commands.py</c>): the iterator and <c>loop_index</c> as names,
        /// <c>iter = {iterator, _index, _first, _last, loop_event_id}</c> and <c>loop = {index, first, length, done}</c>.
        /// </summary>
        public Dictionary<string, JsonNode?> Bindings() => new(StringComparer.Ordinal)
        {
            [Iterator] = Item?.DeepClone(),
            ["loop_index"] = Index,
            ["iter"] = new JsonObject
            {
                [Iterator] = Item?.DeepClone(),
                ["_index"] = Index,
                ["_first"] = Index == 0,
                ["_last"] = Index == Total - 1,
                ["loop_event_id"] = LoopEventId,
            },
            ["loop"] = new JsonObject { ["index"] = Index, ["first"] = Index == 0, ["length"] = Total, ["done"] = false },
        };
    }

    /// <summary>
    /// Rust <c>evaluate_loop</c>: list as is, mapping as key/value pairs, JSON or comma/newline text, count n as 0..n-1.
    /// A collection past the item limit fails the step; a count is checked before its items are built.
    /// </summary>
    private JsonArray LoopItems(Step definition)
    {
        var value = Template.RenderValue(definition.Loop!.In, new EngineScope(_view, null), _rendering);
        switch (value)
        {
            case JsonArray array:
                return WithinLimit(definition, array);
            case JsonObject obj:
                CheckItemCount(definition, obj.Count);
                return new JsonArray(obj.Select(p => (JsonNode)new JsonObject { ["key"] = p.Key, ["value"] = p.Value?.DeepClone() }).ToArray());
            case JsonValue text when text.GetValueKind() == JsonValueKind.String:
                var s = text.GetValue<string>();
                if (s.TrimStart().StartsWith('[') && TryParseArray(s) is { } parsed)
                    return WithinLimit(definition, parsed);
                return WithinLimit(definition, new JsonArray(s.Split([',', '\n']).Select(p => p.Trim()).Where(p => p.Length > 0).Select(p => (JsonNode)p).ToArray()));
            case JsonValue number when number.GetValueKind() == JsonValueKind.Number && ExecutionState.ReadLong(number) is { } n:
                CheckItemCount(definition, n);
                return new JsonArray(Enumerable.Range(0, (int)Math.Max(n, 0)).Select(i => (JsonNode)i).ToArray());
            default:
                var kind = value is null ? "null" : value.GetValueKind().ToString().ToLowerInvariant();
                throw new LoopCollectionException($"loop step '{definition.Name}': loop.in must evaluate to a collection, got {kind}");
        }
    }

    private JsonArray WithinLimit(Step definition, JsonArray items)
    {
        CheckItemCount(definition, items.Count);
        return items;
    }

    private void CheckItemCount(Step definition, long count)
    {
        if (count > _maxLoopItems)
            throw new LoopCollectionException($"loop step '{definition.Name}': loop.in has {count} items, more than the limit of {_maxLoopItems}");
    }

    private static JsonArray? TryParseArray(string text)
    {
        try
        {
            return JsonNode.Parse(text) as JsonArray;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    // ---- routing ----------------------------------------------------------------------------------

    /// <summary>
    /// An arc S→T is pending while S completed after T was last entered or finished, and T is not running. Sources are routed
    /// newest completion first; an arc is ignored while S itself will run again in this pass (it is forward-reachable from a
    /// running or just-dispatched step without passing T), so a stale completion never routes. Targets with several forward
    /// upstreams wait until every upstream that can still run in this pass has finished. Once one of S's targets was entered
    /// after S completed, S's routing was acted on: only its inclusive arcs into such waiting targets are looked at again.
    /// </summary>
    private void Route()
    {
        var running = _state.Steps.Values.Where(s => s.Status == StepStatus.Running).Select(s => s.Name).ToList();
        var dispatch = new List<(Step Target, List<(Step Source, Arc Arc)> Arcs)>();
        var dispatchIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var unmatched = new List<string>();
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        // Everything running and dispatched steps reach. It only grows during the pass, so it is extended, never rebuilt:
        // a step with thousands of arcs is routed in time linear in the graph.
        var live = _graph.ReachableFrom(running, null);
        // The same walk with a back edge's target as a barrier; stale after each dispatch.
        var liveAround = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        bool RunsAgain(string source, string target)
        {
            if (!_graph.IsBackEdge(source, target))
                return live.Contains(source);
            if (!liveAround.TryGetValue(target, out var reached))
                liveAround[target] = reached = _graph.ReachableFrom(running.Concat(dispatch.Select(d => d.Target.Name)), target);
            return reached.Contains(source);
        }

        var sources = _playbook.Steps
            .Select(s => (Definition: s, State: _state.Step(s.Name)))
            .Where(p => p.State.Status == StepStatus.Completed && p.Definition.Arcs.Count > 0)
            .OrderByDescending(p => p.State.FinishedAt);
        foreach (var (source, sourceState) in sources)
        {
            var routed = WasRouted(source, sourceState);
            var candidates = source.Arcs
                .Where(a => !_playbook.IsImplicitEnd(a.Step) && IsPending(sourceState, _state.Step(a.Step)))
                .Where(a => !routed || (source.Next!.Mode == NextMode.Inclusive && _graph.ForwardUpstreams(a.Step).Count > 1))
                .Where(a => !RunsAgain(source.Name, a.Step))
                .ToList();
            if (candidates.Count == 0)
                continue;
            _currentStep = source.Name;
            var selected = SelectArcs(source, sourceState);
            foreach (var arc in candidates)
            {
                if (!selected.Contains(arc))
                {
                    unmatched.Add(arc.Step);
                    continue;
                }
                wanted.Add(arc.Step);
                if (dispatchIndex.TryGetValue(arc.Step, out var existing))
                {
                    dispatch[existing].Arcs.Add((source, arc));
                }
                else if (!IsBlocked(arc.Step, live, dispatchIndex))
                {
                    dispatchIndex[arc.Step] = dispatch.Count;
                    dispatch.Add((_playbook.FindStep(arc.Step)!, [(source, arc)]));
                    _graph.Extend(live, [arc.Step]);
                    liveAround.Clear();
                }
            }
        }

        foreach (var target in unmatched.Distinct())
        {
            if (!wanted.Contains(target) && !live.Contains(target) && _state.Step(target).Status == StepStatus.Pending)
                _emissions.Add(new EmitEvent("step.skipped", target, "SKIPPED", Context: new JsonObject { ["step"] = target }));
        }
        foreach (var (target, arcs) in dispatch)
        {
            foreach (var (source, arc) in arcs.Where(a => a.Arc.Set is not null))
                ApplyArcSet(source, arc);
            Dispatch(target);
        }
    }

    /// <summary>
    /// True once a target of <paramref name="source"/>'s arcs was entered after its latest completion. Its arcs were then
    /// evaluated and acted on; evaluating them again against a context that has moved on (a loop counter, say) could take
    /// an arc this completion never took.
    /// </summary>
    private bool WasRouted(Step source, StepState state) =>
        source.Arcs.Any(a => _playbook.FindStep(a.Step) is not null && _state.Step(a.Step).EnteredAt > state.FinishedAt);

    private static bool IsPending(StepState source, StepState target) =>
        target.Status != StepStatus.Running
        && (source.Name == target.Name || source.FinishedAt > Math.Max(target.EnteredAt, target.FinishedAt));

    /// <summary>Exclusive: the first arc whose <c>when</c> holds; inclusive: every such arc. Arcs without <c>when</c> always hold.</summary>
    private HashSet<Arc> SelectArcs(Step source, StepState state)
    {
        var scope = OutputScope(source, state);
        var selected = new HashSet<Arc>(ReferenceEqualityComparer.Instance);
        foreach (var arc in source.Arcs)
        {
            if (arc.When is not null && !Template.EvaluateCondition(arc.When, scope, _limits))
                continue;
            selected.Add(arc);
            if (source.Next!.Mode == NextMode.Exclusive)
                break;
        }
        return selected;
    }

    /// <summary>
    /// A fan-in target waits while a forward upstream has not finished since the target's last entry and can still run.
    /// An upstream dispatched in this pass (a self-loop going round again) has not finished, whatever its previous run did.
    /// Whether an upstream can still run needs no barrier at the target: over a forward arc, the target never reaches it.
    /// </summary>
    private bool IsBlocked(string target, HashSet<string> live, Dictionary<string, int> dispatching)
    {
        var upstreams = _graph.ForwardUpstreams(target);
        if (upstreams.Count < 2)
            return false;
        var targetState = _state.Step(target);
        return upstreams.Any(u =>
        {
            var upstream = _state.Step(u);
            var settled = upstream.IsDone && upstream.FinishedAt > targetState.EnteredAt && !dispatching.ContainsKey(u);
            return !settled && live.Contains(u);
        });
    }

    private void ApplyArcSet(Step source, Arc arc)
    {
        _currentStep = source.Name;
        var state = _state.Step(source.Name);
        var values = RenderSet(arc.Set!, OutputScope(source, state));
        _emissions.Add(new EmitEvent("ctx.updated", source.Name, "COMPLETED", Context: new JsonObject
        {
            ["step"] = source.Name,
            ["arc"] = arc.Step,
            ["gen"] = state.Completions,
            ["values"] = values,
        }));
    }

    // ---- dispatch ---------------------------------------------------------------------------------

    private void Dispatch(Step target)
    {
        _currentStep = target.Name;
        _dispatchedThisRound = true;
        if (target.Loop is not { } loop)
        {
            _emissions.Add(BuildCommand(target, null));
            return;
        }
        var items = LoopItems(target);
        var loopEventId = $"{_state.ExecutionId}:{target.Name}:{_state.Step(target.Name).Completions + 1}";
        _emissions.Add(new EmitEvent("step.enter", target.Name, "RUNNING", Context: new JsonObject
        {
            ["iterations_expected"] = items.Count,
            ["iterator_var"] = loop.Iterator,
            ["mode"] = loop.Mode == LoopMode.Parallel ? "parallel" : "sequential",
            ["items"] = items.DeepClone(),
            ["loop_event_id"] = loopEventId,
        }));
        if (items.Count == 0)
        {
            var empty = LoopRun.EmptyResult();
            _emissions.Add(new EmitEvent("step.exit", target.Name, "COMPLETED",
                Context: new JsonObject { ["step"] = target.Name, ["result"] = empty.DeepClone() },
                Result: new JsonObject { ["status"] = "COMPLETED", ["context"] = new JsonObject { ["result"] = empty } }));
            _completedInline = true;
            return;
        }
        DispatchIterations(target, items, 0, 0, loopEventId);
    }

    private IssueCommand BuildCommand(Step step, Iteration? iteration)
    {
        var bindings = TriggerBindings();
        if (iteration is not null)
        {
            foreach (var (key, value) in iteration.Bindings())
                bindings[key] = value;
        }
        var scope = new EngineScope(_view, bindings);
        JsonObject toolConfig;
        if (step.Tool is JsonArray pipeline)
        {
            toolConfig = new JsonObject { ["kind"] = Step.TaskSequenceKind, ["tasks"] = new JsonArray(pipeline.Select(t => (JsonNode)RenderPipelineTask((JsonObject)t!, scope)).ToArray()) };
        }
        else if (step.IsWrappedTool)
        {
            var task = new JsonObject { ["name"] = step.WrappedTaskName };
            foreach (var (key, value) in (JsonObject)step.Tool)
            {
                if (key != "name")
                    task[key] = value?.DeepClone();
            }
            toolConfig = new JsonObject { ["tasks"] = new JsonArray(RenderPipelineTask(task, scope)) };
        }
        else
        {
            toolConfig = RenderSingleTool((JsonObject)step.Tool, scope);
        }
        var input = step.Input is null ? [] : Template.RenderValue(step.Input, scope, _commandRendering) as JsonObject ?? [];
        var renderContext = _view.Materialize();
        foreach (var (key, value) in bindings)
            renderContext[key] = value?.DeepClone();
        var meta = new JsonObject();
        if (iteration is not null)
        {
            // NoETL passes the item as the iterator's value; _index and _total stay in iter/loop, not in the input.
            input[iteration.Iterator] = iteration.Item?.DeepClone();
            meta["loop_step"] = step.Name;
            meta["iteration_index"] = iteration.Index;
            meta["iteration_total"] = iteration.Total;
            meta["iterator"] = iteration.Iterator;
        }
        return new IssueCommand(step.CommandStep, step.ToolKind, toolConfig, input, renderContext, step.Spec?.DeepClone() as JsonObject, meta);
    }

    /// <summary>
    /// What a command sees of the event that triggered its decision (NoETL <c>get_render_context</c>):
    /// <c>event = {name, payload, step, timestamp}</c>, and <c>output</c> when the event has a result. The payload's
    /// <c>result</c> is left out: it is the step result, already in the context by the step's name and as <c>output</c>.
    /// </summary>
    private Dictionary<string, JsonNode?> TriggerBindings()
    {
        var bindings = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        if (_trigger is null)
        {
            bindings["event"] = new JsonObject { ["name"] = "playbook.initialized", ["payload"] = new JsonObject(), ["step"] = null, ["timestamp"] = null };
            return bindings;
        }
        var payload = new JsonObject();
        foreach (var (key, value) in _trigger.Context ?? [])
        {
            if (key is not ("result" or "response"))
                payload[key] = value?.DeepClone();
        }
        bindings["event"] = new JsonObject
        {
            ["name"] = _trigger.EventType,
            ["payload"] = payload,
            ["step"] = _trigger.NodeName,
            ["timestamp"] = _trigger.CreatedAt?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        };
        // A failure dispatches nothing in this engine, so no command is ever rendered with an error to show.
        if (_trigger.Error is null && TriggerOutput() is { } output)
            bindings["output"] = output;
        return bindings;
    }

    /// <summary>The trigger's result as its step kept it: the step result of a plain step, the iteration's data of a loop.</summary>
    private JsonNode? TriggerOutput()
    {
        var commandId = _trigger!.CommandId ?? ExecutionState.ReadLong(_trigger.Meta?["command_id"]);
        if (commandId is not null && _state.Commands.TryGetValue(commandId.Value, out var command) && command.IterationIndex is null
            && _state.Step(command.Step) is { Status: StepStatus.Completed } step)
            return step.Result?.DeepClone();
        return ExecutionState.UserData(_trigger);
    }

    /// <summary>
    /// A single tool's <c>spec</c> (its policy rules) is evaluated by the worker against the tool's <c>output</c>,
    /// which does not exist yet: rendering it here would freeze every <c>when</c> to false.
    /// </summary>
    private JsonObject RenderSingleTool(JsonObject tool, EngineScope scope)
    {
        var rendered = new JsonObject();
        foreach (var (key, value) in tool)
            rendered[key] = key == Step.WorkerRenderedToolKey ? value?.DeepClone() : Template.RenderValue(value, scope, _commandRendering);
        return rendered;
    }

    /// <summary>The worker renders a pipeline task's set/input/args/spec/command itself, between tasks.</summary>
    private JsonObject RenderPipelineTask(JsonObject task, EngineScope scope)
    {
        var rendered = new JsonObject();
        foreach (var (key, value) in task)
        {
            rendered[key] = Step.WorkerRenderedTaskKeys.Contains(key)
                ? value?.DeepClone()
                : Template.RenderValue(value, scope, _commandRendering);
        }
        return rendered;
    }

    // ---- completion -------------------------------------------------------------------------------

    private Decision Complete()
    {
        _emissions.Add(new EmitEvent("workflow.completed", "workflow", "completed", Result: Status("completed")));
        _emissions.Add(new EmitEvent("playbook.completed", _state.Path, "completed", Result: Status("completed")));
        return new Decision(_emissions, new Completion(false, null, []));
    }

    /// <summary>Fails the execution. With no <paramref name="error"/>, the failed steps make the message; earlier emissions are dropped for an error.</summary>
    private Decision Fail(string? step, string? error)
    {
        List<string> failedSteps;
        if (error is null)
        {
            failedSteps = [.. _state.FailedSteps];
            error = $"Failed steps: {string.Join(", ", failedSteps)}";
        }
        else
        {
            _emissions.RemoveAll(e => e is IssueCommand || e is EmitEvent { EventType: not ("playbook.initialized" or "workflow.initialized") });
            failedSteps = step is null ? [] : [step];
        }
        _emissions.Add(new EmitEvent("workflow.failed", "workflow", "failed", Result: Status("failed"), Error: error));
        _emissions.Add(new EmitEvent("playbook.failed", _state.Path, "failed", Result: Status("failed"), Error: error));
        return new Decision(_emissions, new Completion(true, error, failedSteps));
    }

    private static JsonObject Status(string status) => new() { ["status"] = status };

    // ---- inline state advance ---------------------------------------------------------------------

    /// <summary>Applies the emissions not yet applied to a private copy of the state, with synthetic ids for commands.</summary>
    private void AdvanceState()
    {
        if (!_ownsState)
        {
            _state = _state.Clone();
            _ownsState = true;
        }
        for (; _applied < _emissions.Count; _applied++)
        {
            var eventId = _state.LastEventId + 1;
            _state.Apply(_emissions[_applied] switch
            {
                EmitEvent e => new LoggedEvent(eventId, e.EventType, e.NodeName, e.Status, e.Context, e.Result, e.Meta, null, e.Error),
                IssueCommand c => IssuedEvent(eventId, c),
                _ => throw new InvalidOperationException("unknown emission"),
            });
        }
        _view = new ContextView(_state);
    }

    private LoggedEvent IssuedEvent(long eventId, IssueCommand command)
    {
        var commandId = --_syntheticCommandId;
        var meta = (JsonObject)command.Meta.DeepClone();
        meta["step"] = command.Step;
        meta["command_id"] = commandId;
        return new LoggedEvent(eventId, "command.issued", command.Step, "PENDING", null, null, meta, commandId, null);
    }
}

/// <summary>A loop collection that cannot be iterated; fails the execution.</summary>
internal sealed class LoopCollectionException(string message) : Exception(message);
