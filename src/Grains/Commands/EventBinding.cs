using System.Text.Json.Nodes;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Commands;

/// <summary>
/// Who may report what about a command. Claims check the pool; events must too, or any token could finish a
/// command someone else holds: an event is accepted only from the execution's own pool, lifecycle events of a
/// command only from the worker holding its current claim (and, when it presents one, with that claim's lease
/// token), and events without a command only when they are informative — never a type the engine acts on.
/// </summary>
public static class EventBinding
{
    // The event types the engine folds or emits itself (ExecutionState.Apply): a worker may not write them unbound.
    private static readonly string[] EngineTypePrefixes = ["command.", "call.", "playbook.", "workflow.", "execution.", "step."];

    public static bool IsEngineType(string eventType) =>
        eventType == "ctx.updated" || EngineTypePrefixes.Any(prefix => eventType.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>Events that report a run: only the claim holder sends them (<c>command.claimed</c> has its own rule).</summary>
    public static bool IsClaimBound(string eventType) =>
        eventType != "command.claimed"
        && (eventType.StartsWith("command.", StringComparison.Ordinal) || eventType.StartsWith("call.", StringComparison.Ordinal) || eventType == "step.exit");

    /// <summary>A worker principal may write only into executions whose commands are routed to its pool (and read their results).</summary>
    public static Failure? CheckPool(Caller caller, string executionPool, long executionId, string action = "report events for it") =>
        caller.Role == Caller.WorkerRole && caller.Pool != executionPool
            ? Failure.Forbidden("wrong_pool", $"Execution {executionId} runs on pool '{executionPool}'; pool '{caller.Pool}' may not {action}")
            : null;

    public static Failure? CheckUnbound(string eventType) =>
        IsEngineType(eventType)
            ? Failure.Invalid("body.name", $"'{eventType}' reports on a command: it needs the command_id of a command of this execution")
            : null;

    public static Failure? CheckHolder(CommandRecord command, WorkerEvent workerEvent, JsonObject? meta, JsonObject payload,
        long executionId, LeaseTokens leases, ServerOptions options)
    {
        var name = workerEvent.Name;
        // Fencing: an event of a superseded claim (older epoch, or — for workers that do not echo epochs — another
        // worker than the one that reclaimed the command) never changes state.
        var epoch = WireIds.Read(meta?["lease_epoch"] ?? payload["lease_epoch"]);
        if (epoch < command.LeaseEpoch
            || epoch is null && command.LeaseEpoch > 1 && name != "command.claimed"
               && workerEvent.WorkerId is not null && command.WorkerId is not null && workerEvent.WorkerId != command.WorkerId)
        {
            return new Failure(FailureKind.Conflict, "stale_lease",
                $"Command {command.CommandId} was claimed again by {command.WorkerId} (lease epoch {command.LeaseEpoch}); events of the earlier claim are rejected",
                Extra: new JsonText(new JsonObject { ["lease_epoch"] = command.LeaseEpoch }.ToJsonString()));
        }
        if (!IsClaimBound(name))
            return null;
        if (command.WorkerId is null || workerEvent.WorkerId != command.WorkerId)
            return Failure.Conflict("not_claim_holder",
                command.WorkerId is null
                    ? $"Command {command.CommandId} has not been claimed; claim it before reporting '{name}'"
                    : $"Command {command.CommandId} is held by another worker; only the holder reports '{name}'");
        var presented = LeaseTokenOf(meta) ?? LeaseTokenOf(payload);
        if (presented is null)
            return options.RequireLeaseToken
                ? Failure.Conflict("lease_token_required", $"'{name}' for command {command.CommandId} must echo the claim's lease_token in meta")
                : null;
        return leases.Verify(presented, executionId, command.CommandId, command.LeaseEpoch)
            ? null
            : Failure.Conflict("lease_token_mismatch", $"The lease_token does not belong to the current claim of command {command.CommandId}");
    }

    /// <summary>The echoed lease token is a credential of the claim: it is checked, never stored.</summary>
    public static void RemoveLeaseToken(JsonObject? node) => node?.Remove(LeaseTokenKey);

    public const string LeaseTokenKey = "lease_token";

    private static string? LeaseTokenOf(JsonObject? node) =>
        node?[LeaseTokenKey] is JsonValue value && value.TryGetValue<string>(out var token) ? token : null;
}
