using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json.Nodes;
using NoEtl.Orchestration.Playbooks;

namespace NoEtl.Orchestration.Engine;

/// <summary>The decision function of the execution grain: pure, deterministic, driven only by the folded log.</summary>
public static class Orchestrator
{
    /// <summary>The events that finish a command; after each the grain must call <see cref="Decide"/>.</summary>
    public static readonly FrozenSet<string> TriggerEventTypes =
        new[] { "call.done", "call.error", "step.exit", "command.completed", "command.failed" }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Events after which the grain must call <see cref="Decide"/>.</summary>
    public static bool IsTrigger(string eventType) => TriggerEventTypes.Contains(eventType);

    /// <summary>
    /// The first turn of an execution: <c>playbook.initialized</c>, <c>workflow.initialized</c>, then the entry step
    /// (its command, or <c>step.enter</c> and the first iterations for a loop). The workload is the playbook's, deep-merged with <paramref name="payloadOverlay"/>.
    /// A template or loop collection past <paramref name="limits"/> (default <see cref="PlaybookLimits.Default"/>) fails the execution like any template error.
    /// </summary>
    public static Decision Start(Playbook pb, long executionId, long catalogId, string path, int version, JsonObject payloadOverlay, long? parentExecutionId,
        PlaybookLimits? limits = null)
    {
        var workload = DeepMerge(pb.Workload, payloadOverlay);
        var initialized = new EmitEvent("playbook.initialized", path, "initialized", Context: new JsonObject
        {
            ["workload"] = workload,
            ["playbook_path"] = path,
            ["catalog_id"] = catalogId.ToString(CultureInfo.InvariantCulture),
            ["execution_id"] = executionId.ToString(CultureInfo.InvariantCulture),
            ["version"] = version,
            ["parent_execution_id"] = parentExecutionId?.ToString(CultureInfo.InvariantCulture),
        });
        var workflowInitialized = new EmitEvent("workflow.initialized", "workflow", "initialized", Result: new JsonObject
        {
            ["status"] = "initialized",
            ["context"] = new JsonObject { ["first_step"] = pb.EntryStep },
        });
        return new DecisionBuilder(pb, new ExecutionState(pb), ownsState: true, limits ?? PlaybookLimits.Default)
            .Start([initialized, workflowInitialized]);
    }

    /// <summary>
    /// The next turn after <paramref name="trigger"/>, which the grain has already applied to <paramref name="state"/>.
    /// Non-trigger events and terminal executions yield <see cref="Decision.None"/>; so does a repeated trigger, because
    /// decisions only react to state the previous decisions have not consumed yet.
    /// </summary>
    public static Decision Decide(Playbook pb, ExecutionState state, LoggedEvent trigger, PlaybookLimits? limits = null)
    {
        if (!IsTrigger(trigger.EventType) || state.Status != ExecutionStatus.Running || !state.IsInitialized)
            return Decision.None;
        // A step.exit without a command is the engine's own (empty loop); the decision that emitted it already routed on.
        if (trigger is { EventType: "step.exit", CommandId: null } && trigger.Meta?["command_id"] is null && trigger.Context?["command_id"] is null)
            return Decision.None;
        return new DecisionBuilder(pb, state, ownsState: false, limits ?? PlaybookLimits.Default, trigger).Continue();
    }

    /// <summary>Objects merge key by key (overlay wins); any other overlay value replaces the base.</summary>
    public static JsonObject DeepMerge(JsonObject baseObject, JsonObject overlay)
    {
        var merged = (JsonObject)baseObject.DeepClone();
        foreach (var (key, value) in overlay)
        {
            merged[key] = merged[key] is JsonObject existing && value is JsonObject nested
                ? DeepMerge(existing, nested)
                : value?.DeepClone();
        }
        return merged;
    }
}
