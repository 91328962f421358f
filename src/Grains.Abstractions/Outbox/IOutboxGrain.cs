using System.Text.Json.Serialization;
using Orleans.Concurrency;

namespace NoEtl.Grains;

/// <summary>A claimed row: its JSON payload (published as it is) and the claims it has had, this one included.</summary>
[GenerateSerializer, Immutable, Alias("noetl.ClaimedOutboxRow")]
public sealed record ClaimedOutboxRow(
    [property: Id(0)] long OutboxId,
    [property: Id(1)] long EventId,
    [property: Id(2)] long? ExecutionId,
    [property: Id(3)] string? Subject,
    [property: Id(4)] JsonText Payload,
    [property: Id(5)] string PayloadCodec,
    [property: Id(6)] int Attempts);

[GenerateSerializer, Immutable, Alias("noetl.OutboxClaim")]
public sealed record OutboxClaim([property: Id(0)] IReadOnlyList<ClaimedOutboxRow> Rows)
{
    public int Claimed => Rows.Count;
}

[GenerateSerializer, Immutable, Alias("noetl.OutboxMarked")]
public sealed record OutboxMarked([property: Id(0)] int Marked);

/// <summary>A failed publish: <c>dead</c> once the row reached the attempt cap, else retried in <c>available_at_in</c> seconds.</summary>
[GenerateSerializer, Immutable, Alias("noetl.OutboxFailed")]
public sealed record OutboxFailed(
    [property: Id(0)] bool Dead,
    [property: Id(1), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? AvailableAtIn)
{
    [JsonPropertyOrder(-1)] public bool Marked => true;
}

[GenerateSerializer, Immutable, Alias("noetl.OutboxPending")]
public sealed record OutboxPending([property: Id(0)] long Pending);

/// <summary>A dead-lettered row, without its payload.</summary>
[GenerateSerializer, Immutable, Alias("noetl.DeadLetter")]
public sealed record DeadLetter(
    [property: Id(0)] long OutboxId,
    [property: Id(1)] long EventId,
    [property: Id(2)] long? ExecutionId,
    [property: Id(3)] string? Subject,
    [property: Id(4)] int Attempts,
    [property: Id(5)] string? LastError,
    [property: Id(6)] string CreatedAt,
    [property: Id(7)] string UpdatedAt);

/// <summary>A page of dead letters; a full page may have more behind it: pass <c>next_after_id</c> back as <c>after_id</c>.</summary>
[GenerateSerializer, Immutable, Alias("noetl.DeadLetters")]
public sealed record DeadLetters([property: Id(0)] IReadOnlyList<DeadLetter> Items, [property: Id(1)] long? NextAfterId);

[GenerateSerializer, Immutable, Alias("noetl.OutboxRequeued")]
public sealed record OutboxRequeued([property: Id(0)] int Requeued);

/// <summary>
/// The singleton (key 0) in front of <c>noetl.outbox</c>: claims for the system-pool publisher,
/// acknowledgements, and a wake-up signal from execution grains so long-polls return as soon as rows commit.
/// Every method may answer Unavailable (the database).
/// </summary>
[Alias("noetl.IOutboxGrain")]
public interface IOutboxGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Claims due rows, waiting up to <paramref name="waitMs"/> for some to commit. Cancelling (the publisher's
    /// HTTP request went away) ends the wait without claiming, so a stopped publisher does not take rows with it.
    /// </summary>
    [Alias("Claim")] Task<Outcome<OutboxClaim>> Claim(int limit, int waitMs, CancellationToken cancellationToken = default);

    [Alias("MarkPublished")] Task<Outcome<OutboxMarked>> MarkPublished(IReadOnlyList<long> outboxIds);

    /// <remarks>NotFound (no such row); Unavailable.</remarks>
    [Alias("MarkFailed")] Task<Outcome<OutboxFailed>> MarkFailed(long outboxId, string error, int attempts, int maxDelaySeconds);

    [Alias("PendingCount")] Task<Outcome<OutboxPending>> PendingCount();

    /// <summary>Dead-lettered rows (status DEAD) in <c>outbox_id</c> order, after <paramref name="afterId"/> (keyset paging).</summary>
    [Alias("DeadLetters")] Task<Outcome<DeadLetters>> DeadLetters(int limit, long afterId);

    /// <summary>Moves DEAD rows back to PENDING with their attempts reset: the listed ids, or every DEAD row.</summary>
    [Alias("Requeue")] Task<Outcome<OutboxRequeued>> Requeue(IReadOnlyList<long> outboxIds, bool all);

    /// <summary>Execution grains call this after committing outbox rows.</summary>
    [Alias("RowsCommitted"), OneWay] Task RowsCommitted();

    /// <summary>Deletes PUBLISHED rows past the server's outbox retention now; returns how many.</summary>
    [Alias("PurgePublished")] Task<long> PurgePublished();
}
