using System.Text.Json;
using System.Text.Json.Nodes;
using NoEtl.Orchestration.Engine;
using NoEtl.Orchestration.Playbooks;

namespace NoEtl.Orchestration.Tests.Engine;

/// <summary>
/// Plays the ExecutionGrain: persists emissions as log events (assigning event and command ids), applies every event to the
/// state and calls the orchestrator after triggers. Records each decision so replay tests can compare against a re-fold.
/// </summary>
public sealed class GrainSimulator
{
    private long _nextEventId = 100;
    private long _nextCommandId = 5000;
    private readonly PlaybookLimits? _limits;

    public GrainSimulator(string yaml, JsonObject? payload = null, PlaybookLimits? limits = null)
    {
        var parsed = Playbook.Parse(PlaybookDocument.LoadYaml(yaml, limits), limits);
        Assert.True(parsed.IsValid, string.Join("; ", parsed.Errors.Select(e => $"{e.Path}: {e.Message}")));
        Playbook = parsed.Playbook!;
        State = new ExecutionState(Playbook);
        _limits = limits;
        Record(-1, Orchestrator.Start(Playbook, 42, 7, Playbook.Path, 1, payload ?? [], null, limits));
    }

    public Playbook Playbook { get; }

    public ExecutionState State { get; }

    public List<LoggedEvent> Log { get; } = [];

    public List<IssueCommand> Commands { get; } = [];

    /// <summary>(index of the trigger in the log, or -1 for Start; the decision it produced).</summary>
    public List<(int TriggerIndex, Decision Decision)> Decisions { get; } = [];

    public Completion? Completion { get; private set; }

    /// <summary>Command ids by step, in issue order, with the IssueCommand that produced them.</summary>
    public List<(long Id, IssueCommand Command)> Issued { get; } = [];

    public long CommandOf(string step, int? iteration = null) =>
        Issued.Last(c => c.Command.Step == step && (iteration is null || (int?)c.Command.Meta["iteration_index"] == iteration)).Id;

    /// <summary>The oldest command of <paramref name="step"/> without a terminal worker event.</summary>
    public long OpenCommandOf(string step, int? iteration = null)
    {
        var finished = Log.Where(e => e.EventType is "call.done" or "call.error").Select(e => e.CommandId).ToHashSet();
        return Issued.First(c => c.Command.Step == step && !finished.Contains(c.Id)
            && (iteration is null || (int?)c.Command.Meta["iteration_index"] == iteration)).Id;
    }

    public Decision Done(string step, JsonNode? data = null, int? iteration = null) =>
        CallDone(OpenCommandOf(step, iteration), data);

    public Decision CallDone(long commandId, JsonNode? data = null)
    {
        var payload = new JsonObject
        {
            ["command_id"] = commandId,
            ["result"] = new JsonObject { ["status"] = "ok", ["context"] = new JsonObject { ["data"] = data?.DeepClone() } },
        };
        var stored = new JsonObject { ["status"] = "COMPLETED", ["context"] = new JsonObject { ["data"] = data?.DeepClone() } };
        return Worker("call.done", commandId, payload, stored, null);
    }

    /// <summary>A call.done whose result is a result-store reference; <paramref name="stored"/> is what the grain read for it.</summary>
    public Decision DoneByReference(string step, JsonObject reference, JsonNode? stored)
    {
        var id = OpenCommandOf(step);
        var result = new JsonObject { ["status"] = "COMPLETED", ["reference"] = reference.DeepClone() };
        return Worker("call.done", id, new JsonObject { ["command_id"] = id, ["result"] = result }, (JsonObject)result.DeepClone(), null, stored);
    }

    public Decision Completed(long commandId) =>
        Worker("command.completed", commandId, new JsonObject { ["command_id"] = commandId, ["status"] = "COMPLETED" }, new JsonObject { ["status"] = "COMPLETED" }, null);

    public Decision Error(string step, string error = "boom", int? iteration = null)
    {
        var id = OpenCommandOf(step, iteration);
        return Worker("call.error", id, new JsonObject { ["command_id"] = id, ["error"] = error }, new JsonObject { ["status"] = "FAILED" }, error);
    }

    public Decision CommandFailed(long commandId, string error = "boom") =>
        Worker("command.failed", commandId, new JsonObject { ["command_id"] = commandId, ["error"] = error }, new JsonObject { ["status"] = "FAILED" }, error);

    public Decision Worker(string type, long commandId, JsonObject payload, JsonObject? result, string? error, JsonNode? referencedData = null)
    {
        var step = Issued.First(c => c.Id == commandId).Command.Step;
        var e = new LoggedEvent(_nextEventId++, type, step, type.Contains("error") || type.Contains("failed") ? "FAILED" : "COMPLETED",
            payload, result, new JsonObject { ["command_id"] = commandId }, commandId, error)
        { ReferencedData = referencedData };
        Append(e);
        if (!Orchestrator.IsTrigger(type))
            return Decision.None;
        var decision = Orchestrator.Decide(Playbook, State, e, _limits);
        Record(Log.Count - 1, decision);
        return decision;
    }

    public void Cancel() =>
        Append(new LoggedEvent(_nextEventId++, "execution.cancelled", "execution", "CANCELLED", null, null, null, null, null));

    private void Record(int triggerIndex, Decision decision)
    {
        Decisions.Add((triggerIndex, decision));
        if (decision.Completion is not null)
            Completion = decision.Completion;
        foreach (var emission in decision.Emissions)
        {
            switch (emission)
            {
                case EmitEvent e:
                    AssertResultShape(e.Result);
                    Append(new LoggedEvent(_nextEventId++, e.EventType, e.NodeName, e.Status, e.Context, e.Result, e.Meta, null, e.Error));
                    break;
                case IssueCommand c:
                    var id = _nextCommandId++;
                    Issued.Add((id, c));
                    Commands.Add(c);
                    var meta = (JsonObject)c.Meta.DeepClone();
                    meta["step"] = c.Step;
                    meta["command_id"] = id;
                    meta["tool_kind"] = c.ToolKind;
                    Append(new LoggedEvent(_nextEventId++, "command.issued", c.Step, "PENDING",
                        new JsonObject { ["tool_config"] = c.ToolConfig.DeepClone(), ["input"] = c.Input.DeepClone() }, null, meta, id, null));
                    break;
            }
        }
    }

    private void Append(LoggedEvent e)
    {
        Log.Add(e);
        State.Apply(e);
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

    /// <summary>The log as compact lines: <c>issue:step[i]</c>, <c>done:step</c>, <c>step.skipped:x</c>, <c>ctx.updated:x {json}</c>…</summary>
    public List<string> Trace() => Log.Select(Describe).ToList();

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
    public List<string> DetailedTrace() => Log.Select(e =>
    {
        if (e.EventType != "command.issued")
            return Describe(e);
        var command = Issued.First(c => c.Id == e.CommandId).Command;
        var line = Describe(e);
        if (command.Input.Count > 0)
            line += $" input={command.Input.ToJsonString(Readable)}";
        var tool = (JsonObject)command.ToolConfig.DeepClone();
        tool.Remove("kind");
        if (tool.Count > 0)
            line += $" tool={tool.ToJsonString(Readable)}";
        return line;
    }).ToList();

    /// <summary>Iteration indexes of <paramref name="step"/>'s issued commands without a call.done or call.error yet, ascending.</summary>
    public List<int> OpenIterations(string step)
    {
        var finished = Log.Where(e => e.EventType is "call.done" or "call.error").Select(e => e.CommandId).ToHashSet();
        return Issued.Where(c => c.Command.Step == step && c.Command.Meta["iteration_index"] is not null && !finished.Contains(c.Id))
            .Select(c => (int)c.Command.Meta["iteration_index"]!).Order().ToList();
    }

    private static string Iteration(JsonObject? meta) => meta?["iteration_index"] is { } i ? $"[{i}]" : "";
}
