namespace NoEtl.Grains.Executions;

/// <summary>
/// A turn from an activation that is no longer its execution's writer: another activation took a newer writer epoch
/// (docs/reliability.md, "Single-writer fence"). Nothing of the turn was written; the caller may retry, and reaches
/// the current writer.
/// </summary>
public sealed class StaleWriterException(long executionId, long epoch, Exception inner)
    : Exception($"execution {executionId}: writer epoch {epoch} was superseded by another activation; the turn was not written", inner)
{
    /// <summary>Raised by <c>noetl.fence_execution_writers</c> (migration 0008).</summary>
    public const string SqlState = "NE409";

    public long ExecutionId => executionId;

    public long Epoch => epoch;
}

/// <summary>The silo's group-commit queue is full (<c>NOETL_COMMIT_QUEUE_MAX_TURNS</c>): the turn was refused, not queued.</summary>
public sealed class CommitQueueFullException(int capacity)
    : Exception($"the commit queue holds its maximum of {capacity} turns");
