using NoEtl.Grains;

namespace NoEtl.ApiGateway.Http;

/// <summary>
/// Fast failover for grain calls whose repetition is harmless (claims, worker events, command lookups, execution reads). A
/// call in flight to a silo that dies is never answered: the Orleans client only gives up at its response timeout, and
/// a gateway cannot tell a lost call from a slow one. Here each attempt gets <see cref="AttemptTimeout"/>; an attempt
/// that times out or finds its silo gone is sent again (by then membership has evicted the dead silo and the grain
/// activates on a survivor), up to <see cref="Attempts"/> attempts. A repeated claim by the holder is answered with the
/// holder's claim, a repeated <see cref="DeduplicatedEvents"/> event with the first one, a batch under an idempotency
/// key with the stored batch: an abandoned attempt that still completes changes nothing. Calls that would be stored
/// twice (a heartbeat, a batch without a key) pass <c>repeatAfterTimeout: false</c>: a slow attempt is awaited to the
/// client's response timeout, and only an attempt that never reached a live silo is sent again.
/// </summary>
public sealed class GrainFailover(int attempts, TimeSpan attemptTimeout)
{
    /// <summary>Pause before the next attempt: long enough for a connection to a dead silo to be dropped.</summary>
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(100);

    public int Attempts { get; } = Math.Max(1, attempts);

    public TimeSpan AttemptTimeout { get; } = attemptTimeout;

    public async Task<T> CallAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken, bool repeatAfterTimeout = true)
    {
        var bounded = repeatAfterTimeout && Attempts > 1 && AttemptTimeout > TimeSpan.Zero;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var task = call();
                return bounded ? await task.WaitAsync(AttemptTimeout, cancellationToken) : await task;
            }
            catch (Exception e) when (attempt < Attempts && !cancellationToken.IsCancellationRequested
                                      && e is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException)
            {
                await Task.Delay(Pause, cancellationToken);
            }
        }
    }
}
