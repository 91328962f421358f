using System.Text.Json.Nodes;
using NoEtl.Grains.Commands;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Executions.Aggregate;

// Commands: claims (ClaimPolicy arbitrates), the reaper's re-notifications, and cancellation with its owed cascade.
public sealed partial class ExecutionAggregate
{
    /// <summary>
    /// The cancel reason a cascade to the children still owes (null: none owed). <c>execution.cancelled</c> records it
    /// in <c>meta.cascade</c>; the grain runs it after the commit and calls <see cref="CascadeSettled"/> once every
    /// child answered, so a failed cascade is retried — by a repeated cancel, a timer, or the next activation.
    /// </summary>
    public string? OwedCascade { get; private set; }

    public void CascadeSettled() => OwedCascade = null;

    /// <summary>The worker whose liveness the claim needs (its holder), if any; the grain reads it from <c>noetl.runtime</c>.</summary>
    public string? HolderToCheck(long eventId, string workerId, DateTime nowUtc) =>
        FindCommand(eventId) is { } command && ClaimPolicy.NeedsHolderLiveness(command, workerId, nowUtc, Options)
            ? command.WorkerId
            : null;

    /// <summary>A claim refused before the holder's liveness matters: unknown command, foreign pool, a secret as worker id.</summary>
    public Failure? ClaimRefusal(long eventId, string workerId, Caller caller, IReadOnlyCollection<string> secrets)
    {
        if (FindCommand(eventId) is not { } command)
            return CommandNotFound(eventId);
        if (caller.Pool is { } callerPool && callerPool != Pool)
            return Failure.Forbidden("wrong_pool", $"Command {command.CommandId} is routed to pool '{Pool}'; pool '{callerPool}' may not claim it");
        return SecretInIdentifiers(secrets, ("worker_id", workerId));
    }

    /// <param name="holder">The liveness of the current holder when <see cref="HolderToCheck"/> named one.</param>
    public ClaimDecision Claim(long eventId, string workerId, JsonText? locality, Caller caller, IReadOnlyCollection<string> secrets,
        DateTime nowUtc, HolderLiveness? holder)
    {
        if (ClaimRefusal(eventId, workerId, caller, secrets) is { } refusal)
            return new ClaimDecision(refusal);
        var command = FindCommand(eventId)!;
        var commandId = command.CommandId;
        var decision = ClaimPolicy.Decide(command, IsTerminal, workerId, nowUtc, Options, holder);
        switch (decision.Verdict)
        {
            case ClaimVerdict.Terminal:
                return new ClaimDecision(Failure.Conflict("already_terminal",
                    IsTerminal ? $"Execution {ExecutionId} is terminal ({_terminalEventType})" : $"Command {commandId} is {command.Status}"));
            case ClaimVerdict.Held:
                var held = new JsonObject { ["worker_id"] = command.WorkerId };
                if (decision.HolderRunning)
                    held["worker_status"] = "running";
                return new ClaimDecision(new Failure(FailureKind.Conflict, "active_claim", $"Command {commandId} is claimed by {command.WorkerId}",
                    Options.ClaimRetryAfterSeconds, Extra: new JsonText(held.ToJsonString())));
            case ClaimVerdict.Repeat:
                return new ClaimDecision(ClaimResponse(command, eventId, null));
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
        if (JsonInput.ParseOrNull(locality?.Json) is JsonObject place)
            meta["locality"] = Scrub(place, secrets);
        if (decision.ReclaimReason is { } reason)
        {
            meta["reclaimed"] = true;
            meta["reclaimed_from_worker"] = previousHolder;
            meta["reclaimed_reason"] = reason;
        }

        var turn = new Turn();
        var row = new EventRow(NextEventId(), "command.claimed", command.Step, command.ToolKind, "RUNNING",
            new JsonObject { ["command_id"] = commandId },
            new JsonObject { ["status"] = "RUNNING", ["context"] = new JsonObject { ["command_id"] = commandId } },
            meta, null, workerId, commandId, eventId, Now);
        turn.Events.Add(row);
        ProjectCommand(command, row, turn);
        Fold(row);
        return new ClaimDecision(ClaimResponse(command, eventId, decision.ReclaimReason is null ? null : meta), turn,
            decision.ReclaimReason is { } why ? new Reclaim(commandId, previousHolder, why) : null);
    }

    private CommandRecord? FindCommand(long eventId) =>
        _commandByEvent.TryGetValue(eventId, out var commandId) ? _commands[commandId] : null;

    private CommandClaim ClaimResponse(CommandRecord command, long eventId, JsonObject? reclaim)
    {
        var leaseToken = _context.Leases.Mint(ExecutionId, command.CommandId, command.LeaseEpoch);
        var meta = command.MetaCopy();
        meta["worker_id"] = command.WorkerId;
        meta["lease_epoch"] = command.LeaseEpoch;
        meta[EventBinding.LeaseTokenKey] = leaseToken;
        if (reclaim is not null)
            foreach (var key in new[] { "reclaimed", "reclaimed_from_worker", "reclaimed_reason" })
                meta[key] = reclaim[key]?.DeepClone();
        // The lease epoch is the fencing token workers that know it send back; the lease token proves their events
        // come from this claim's holder.
        return new CommandClaim(eventId, ExecutionId, command.LeaseEpoch, leaseToken, command.Step, command.Step, command.ToolKind,
            new JsonText(command.ContextJson), new JsonText(meta.ToJsonString()));
    }

    /// <summary>
    /// The command whose context and meta <see cref="GetCommand"/> needs from <c>noetl.command</c>: a finished one keeps
    /// neither in memory.
    /// </summary>
    public long? CommandBodyToRead(long eventId) => FindCommand(eventId) is { HasBody: false } command ? command.CommandId : null;

    /// <param name="stored">The body the grain read for <see cref="CommandBodyToRead"/> (null: its row is gone).</param>
    public Outcome<CommandView> GetCommand(long eventId, CommandBody? stored = null)
    {
        if (FindCommand(eventId) is not { } command)
            return CommandNotFound(eventId);
        var (context, meta) = command.HasBody ? (command.ContextCopy(), command.MetaCopy()) : (stored?.Context, stored?.Meta);
        if (context is null)
            return CommandNotFound(eventId);
        return new CommandView(ExecutionId, command.Step, command.Step, command.ToolKind, JsonText.From(Redactor.Redact(context)?.ToJsonString()),
            JsonText.From(Redactor.Redact(meta)?.ToJsonString()), command.Status);
    }

    public static Failure CommandNotFound(long eventId) => Failure.NotFound($"command not found: {eventId}");

    public static readonly Failure ExecutionNotFound = Failure.NotFound("Execution not found");

    /// <summary>The holders whose liveness a sweep at <paramref name="nowUtc"/> needs (<see cref="Sweep"/>).</summary>
    public List<string> HoldersToSweep(DateTime nowUtc) =>
        [.. _commands.Values
            .Where(c => !c.IsTerminal && c.WorkerId is not null && ClaimPolicy.NeedsHolderLiveness(c, "", nowUtc, Options))
            .Select(c => c.WorkerId!).Distinct()];

    /// <summary>
    /// NoETL's command reaper: commands whose notification may be lost or whose holder vanished are notified again
    /// through a new outbox row. It never completes a command: the next claim arbitrates.
    /// </summary>
    public SweepDecision Sweep(DateTime nowUtc, IReadOnlyDictionary<string, HolderLiveness?> holders)
    {
        var now = nowUtc;
        var turn = new Turn();
        var renotified = new List<(long, string)>();
        foreach (var command in _commands.Values.Where(c => !c.IsTerminal))
        {
            var holder = command.WorkerId is { } worker && ClaimPolicy.NeedsHolderLiveness(command, "", now, Options)
                ? holders.GetValueOrDefault(worker)
                : null;
            if (ClaimPolicy.RenotifyReason(command, now, Options, holder) is not { } reason)
                continue;
            var row = new EventRow(NextEventId(), "command.renotified", command.Step, command.ToolKind, command.Status,
                new JsonObject { ["command_id"] = command.CommandId, ["reason"] = reason },
                null,
                new JsonObject { ["command_id"] = command.CommandId, ["reason"] = reason, ["worker_id"] = command.WorkerId, ["actionable"] = false, ["informative"] = true },
                null, null, command.CommandId, command.EventId, Now);
            turn.Events.Add(row);
            turn.Outbox.Add(new OutboxRow(row.EventId, Subject, Notification(command)));
            Fold(row);
            command.NotifiedAt = now;
            renotified.Add((command.CommandId, reason));
        }
        if (renotified.Count == 0)
            return new SweepDecision(null, []);
        turn.Execution = Projection();
        return new SweepDecision(turn, renotified);
    }

    /// <summary>
    /// Cancels a running execution: <c>execution.cancelled</c> (owing the children a cascade when asked) and every open
    /// command CANCELLED. A finished one answers NoETL's <c>already_completed</c>, a cancelled one owing its cascade again
    /// (an earlier cascade may have failed). The grain commits the turn, runs the owed cascade, then answers
    /// <see cref="CancelReply(CancelDecision, IReadOnlyList{string})"/>.
    /// </summary>
    public CancelDecision Cancel(string reason, bool cascade, Caller caller)
    {
        if (IsTerminal)
        {
            if (StatusText == "CANCELLED" && cascade)
                OwedCascade ??= reason;
            return new CancelDecision(null);
        }

        var turn = new Turn();
        var now = Now;
        var row = new EventRow(NextEventId(), "execution.cancelled", "cancel", null, "CANCELLED", null,
            new JsonObject { ["status"] = "CANCELLED" },
            new JsonObject { ["reason"] = reason, ["cancelled_by"] = "api", ["cascade"] = cascade, ["actionable"] = true },
            reason, null, null, null, now);
        turn.Events.Add(row);
        // Open commands end with the execution: none stays PENDING for ever, and retention purges them.
        foreach (var command in _commands.Values.Where(c => !c.IsTerminal))
        {
            command.Status = "CANCELLED";
            command.CompletedAt ??= now;
            turn.CommandChanges.Add(new CommandChange(command.CommandId, "CANCELLED", null, null, null, now, null, null, row.EventId));
        }
        turn.Audit.Add(new AuditEntry(caller.Principal, caller.Role, "execution.cancel", caller.Route, Catalog.Path, ExecutionId, "ok",
            new JsonObject { ["reason"] = reason, ["cascade"] = cascade }.ToJsonString()));
        Fold(row);
        turn.Execution = Projection();
        return new CancelDecision(turn);
    }

    /// <summary>NoETL's cancel answer, once the cascade ran: <paramref name="cascaded"/> are the descendants it cancelled.</summary>
    public Cancellation CancelReply(CancelDecision decision, IReadOnlyList<string> cascaded)
    {
        if (decision.AlreadyFinished)
            return new Cancellation("already_completed", ExecutionId, cascaded, $"Execution {ExecutionId} already finished ({StatusText})");
        List<string> cancelled = [ExecutionId.ToString(), .. cascaded];
        return new Cancellation("cancelled", ExecutionId, cancelled, $"Cancelled {cancelled.Count} execution(s)");
    }
}
