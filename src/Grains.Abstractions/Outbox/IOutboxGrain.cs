using Orleans.Concurrency;

namespace NoEtl.Grains;

/// <summary>
/// The singleton (key 0) in front of <c>noetl.outbox</c>: claims for the system-pool publisher,
/// acknowledgements, and a wake-up signal from execution grains so long-polls return as soon as rows commit.
/// </summary>
[Alias("noetl.IOutboxGrain")]
public interface IOutboxGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Claims due rows, waiting up to <paramref name="waitMs"/> for some to commit. Cancelling (the publisher's
    /// HTTP request went away) ends the wait without claiming, so a stopped publisher does not take rows with it.
    /// </summary>
    [Alias("Claim")] Task<Reply> Claim(int limit, int waitMs, CancellationToken cancellationToken = default);

    [Alias("MarkPublished")] Task<Reply> MarkPublished(IReadOnlyList<long> outboxIds);

    [Alias("MarkFailed")] Task<Reply> MarkFailed(long outboxId, string error, int attempts, int maxDelaySeconds);

    [Alias("PendingCount")] Task<Reply> PendingCount();

    /// <summary>Dead-lettered rows (status DEAD) in <c>outbox_id</c> order, after <paramref name="afterId"/> (keyset paging).</summary>
    [Alias("DeadLetters")] Task<Reply> DeadLetters(int limit, long afterId);

    /// <summary>Moves DEAD rows back to PENDING with their attempts reset: the listed ids, or every DEAD row.</summary>
    [Alias("Requeue")] Task<Reply> Requeue(IReadOnlyList<long> outboxIds, bool all);

    /// <summary>Execution grains call this after committing outbox rows.</summary>
    [Alias("RowsCommitted"), OneWay] Task RowsCommitted();

    /// <summary>Deletes PUBLISHED rows past the server's outbox retention now; returns how many.</summary>
    [Alias("PurgePublished")] Task<long> PurgePublished();
}
