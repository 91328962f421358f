using NoEtl.Grains.Hosting;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Executions.Aggregate;

/// <summary>Where an aggregate gets new ids and the time: handed in, so a decision is a function of its inputs.</summary>
public interface ITurnClock
{
    long NextId();

    DateTime UtcNow { get; }
}

/// <summary>What every decision of an execution needs besides its state; none of it reaches the database.</summary>
/// <param name="Silo">The silo that owns the execution, stamped on issued commands for operators.</param>
public sealed record AggregateContext(ServerOptions Options, LeaseTokens Leases, string Silo, ITurnClock Clock);

/// <summary>
/// The outcome of one call: the reply, and the rows to commit before it is sent (null: nothing to write).
/// <paramref name="Dirty"/> says the aggregate folded rows that will not be committed: the shell drops the activation.
/// </summary>
public sealed record TurnDecision<T>(Outcome<T> Reply, Turn? Turn = null, bool Dirty = false)
    where T : class;

/// <summary>A claim; one granted on a reclaim says whom it took the command from, and why (for the log).</summary>
public sealed record ClaimDecision(Outcome<CommandClaim> Reply, Turn? Turn = null, Reclaim? Reclaim = null);

public sealed record Reclaim(long CommandId, string? From, string Reason);

/// <summary>A start: the turn that creates the execution and the number of commands it issues.</summary>
public sealed record StartDecision(ExecutionAggregate Aggregate, Turn Turn, int Generated);

/// <summary>A reaper sweep: the re-notifications to commit (null turn: nothing was due).</summary>
public sealed record SweepDecision(Turn? Turn, IReadOnlyList<(long CommandId, string Reason)> Renotified);

/// <summary>A cancel: the turn that ends the execution, or none when it had already finished.</summary>
public sealed record CancelDecision(Turn? Turn)
{
    public bool AlreadyFinished => Turn is null;
}
