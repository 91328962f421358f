using System.Diagnostics;
using NoEtl.Grains;

namespace NoEtl.ApiGateway.Http;

/// <summary>
/// Fast failover for grain calls whose repetition is harmless (claims, worker events, command lookups, execution reads). A
/// call in flight to a silo that dies is never answered: the Orleans client only gives up at its response timeout, and
/// a gateway cannot tell a lost call from a slow one. Here each attempt gets <see cref="AttemptTimeout"/>; an attempt
/// that times out is sent again (by then membership has evicted the dead silo and the grain activates on a survivor),
/// up to <see cref="Attempts"/> attempts. An attempt refused at once (the grain's silo is gone but not yet voted out)
/// never ran: it is sent again, backing off, for as long as the attempts would have taken (attempts × attempt
/// timeout). A repeated claim by the holder is answered with the holder's claim, a repeated
/// <see cref="DeduplicatedEvents"/> event with the first one, a batch under an idempotency key with the stored batch:
/// an abandoned attempt that still completes changes nothing. Calls that would be stored twice (a heartbeat, a batch
/// without a key) pass <c>repeatAfterTimeout: false</c>: a slow attempt is awaited to the client's response timeout,
/// and only an attempt that was refused is sent again.
/// </summary>
/// <remarks>
/// When the client closes a gateway connection (<see cref="GatewayLost"/>: its silo died, or was voted out and left the
/// gateway list), every repeatable attempt in flight is sent again at once instead of at its timeout: any of them may
/// have gone through that silo, whose forwards to the others a partition drops without an answer. Those re-sends do
/// not count against <see cref="Attempts"/>; at most <see cref="Attempts"/> of them per call.
/// </remarks>
public sealed class GrainFailover(int attempts, TimeSpan attemptTimeout)
{
    /// <summary>Pause before the next attempt: long enough for a connection to a dead silo to be dropped.</summary>
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(100);

    // Cancelled and replaced whenever a gateway connection closes; never disposed, since attempts may still link to it.
    private CancellationTokenSource _gatewayLost = new();

    public int Attempts { get; } = Math.Max(1, attempts);

    public TimeSpan AttemptTimeout { get; } = attemptTimeout;

    /// <summary>The client lost a gateway connection: repeatable attempts in flight are sent again now.</summary>
    public void GatewayLost() => Interlocked.Exchange(ref _gatewayLost, new CancellationTokenSource()).Cancel();

    public async Task<T> CallAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken, bool repeatAfterTimeout = true)
    {
        var bounded = repeatAfterTimeout && Attempts > 1 && AttemptTimeout > TimeSpan.Zero;
        var started = Stopwatch.GetTimestamp();
        var (timeouts, resends, refusals) = (0, 0, 0);
        while (true)
        {
            var gatewayLost = bounded && resends < Attempts ? Volatile.Read(ref _gatewayLost).Token : CancellationToken.None;
            try
            {
                var task = call();
                if (!bounded)
                    return await task;
                using var attemptEnds = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, gatewayLost);
                return await task.WaitAsync(AttemptTimeout, attemptEnds.Token);
            }
            catch (OperationCanceledException) when (gatewayLost.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                resends++;
                await Task.Delay(Pause, cancellationToken);
            }
            catch (TimeoutException) when (bounded && ++timeouts < Attempts && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(Pause, cancellationToken);
            }
            catch (Exception e) when (e is SiloUnavailableException or OrleansMessageRejectionException && Attempts > 1
                                      && Stopwatch.GetElapsedTime(started) < Attempts * AttemptTimeout
                                      && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(Backoff(++refusals), cancellationToken);
            }
        }
    }

    private static TimeSpan Backoff(int refusals) => TimeSpan.FromMilliseconds(Math.Min(1_000, Pause.TotalMilliseconds * (1 << Math.Min(refusals - 1, 10))));
}
