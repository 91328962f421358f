using System.Text;
using System.Text.Json.Nodes;
using NoEtl.Orchestration;
using NoEtl.Orchestration.Engine;
using NoEtl.Orchestration.Playbooks;

namespace NoEtl.Engine.Benchmarks;

/// <summary>
/// Produces a realistic event log the way the grain does: every emission is persisted as an event and applied,
/// and a worker answers each command with <c>call.done</c> then <c>command.completed</c>.
/// </summary>
internal sealed class EngineLog
{
    private long _nextEventId = 1;
    private long _nextCommandId = 1;
    private readonly Queue<long> _openCommands = new();

    public EngineLog(Playbook playbook)
    {
        Playbook = playbook;
        State = new ExecutionState(playbook);
        Persist(Orchestrator.Start(playbook, 1, 1, playbook.Path, 1, [], null));
    }

    public Playbook Playbook { get; }

    public ExecutionState State { get; }

    public List<LoggedEvent> Events { get; } = [];

    /// <summary>Runs the worker until the log holds <paramref name="length"/> events and returns the <c>call.done</c> that comes next.</summary>
    public LoggedEvent RunUntil(int length)
    {
        while (true)
        {
            var commandId = _openCommands.Peek();
            var callDone = Worker("call.done", commandId, new JsonObject
            {
                ["command_id"] = commandId,
                ["result"] = new JsonObject { ["status"] = "ok", ["context"] = new JsonObject { ["data"] = new JsonObject { ["value"] = commandId } } },
            });
            if (Events.Count >= length - 1)
                return callDone;
            _openCommands.Dequeue();
            Append(callDone);
            Persist(Orchestrator.Decide(Playbook, State, callDone));
            var completed = Worker("command.completed", commandId, new JsonObject { ["command_id"] = commandId, ["status"] = "COMPLETED" });
            Append(completed);
            Persist(Orchestrator.Decide(Playbook, State, completed));
        }
    }

    private LoggedEvent Worker(string type, long commandId, JsonObject payload) =>
        new(_nextEventId++, type, null, "COMPLETED", payload, new JsonObject { ["status"] = "COMPLETED" },
            new JsonObject { ["command_id"] = commandId }, commandId, null);

    private void Persist(Decision decision)
    {
        if (decision.Completion is not null)
            throw new InvalidOperationException("the benchmark playbook must keep running");
        foreach (var emission in decision.Emissions)
        {
            switch (emission)
            {
                case EmitEvent e:
                    Append(new LoggedEvent(_nextEventId++, e.EventType, e.NodeName, e.Status, e.Context, e.Result, e.Meta, null, e.Error));
                    break;
                case IssueCommand c:
                    var commandId = _nextCommandId++;
                    var meta = (JsonObject)c.Meta.DeepClone();
                    meta["step"] = c.Step;
                    meta["command_id"] = commandId;
                    _openCommands.Enqueue(commandId);
                    Append(new LoggedEvent(_nextEventId++, "command.issued", c.Step, "PENDING",
                        new JsonObject { ["tool_config"] = c.ToolConfig, ["input"] = c.Input }, null, meta, commandId, null));
                    break;
            }
        }
    }

    private void Append(LoggedEvent e)
    {
        Events.Add(e);
        State.Apply(e);
    }

    /// <summary>
    /// Twenty steps: <c>start</c>, a chain <c>s1…s17</c> whose inputs read the previous result, ctx and the workload, <c>check</c>,
    /// which counts rounds with a step-level <c>set:</c> and loops back to <c>s1</c> over a back-edge, and <c>end</c>.
    /// </summary>
    public static Playbook TwentyStepPlaybook()
    {
        const int ChainLength = 17;
        var yaml = new StringBuilder("""
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata: {name: bench, path: bench/twenty_steps}
            workload: {tenant: acme}
            workflow:
              - step: start
                tool: {kind: noop}
                set: {ctx.round: 0}
                next: s1

            """);
        for (var i = 1; i <= ChainLength; i++)
        {
            var previous = i == 1 ? "start" : $"s{i - 1}";
            var next = i == ChainLength ? "check" : $"s{i + 1}";
            yaml.AppendLine($"  - step: s{i}")
                .AppendLine($"    tool: {{kind: http, method: GET, url: \"https://example.test/{{{{ workload.tenant }}}}/s{i}\"}}")
                .AppendLine("    input:")
                .AppendLine($"      previous: \"{{{{ {previous}.value | default(0) }}}}\"")
                .AppendLine("      round: \"{{ ctx.round }}\"")
                .AppendLine($"      label: \"{{{{ workload.tenant | upper }}}}-s{i}\"")
                .AppendLine($"    next: {next}");
        }
        yaml.Append("""
              - step: check
                tool: {kind: noop}
                set: {ctx.round: "{{ ctx.round + 1 }}"}
                next:
                  spec: {mode: exclusive}
                  arcs:
                    - step: s1
                      when: "{{ ctx.round < 1000000 }}"
                    - step: end
              - step: end
                tool: {kind: noop}
            """);
        var parsed = Playbook.Parse(PlaybookDocument.LoadYaml(yaml.ToString()));
        if (parsed.Playbook is not { Steps.Count: 20 } playbook)
            throw new InvalidOperationException(string.Join("; ", parsed.Errors));
        return playbook;
    }
}
