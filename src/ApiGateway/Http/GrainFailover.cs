namespace NoEtl.ApiGateway.Http;

/// <summary>
/// Fast failover for idempotent grain calls (claims, worker events, command lookups, execution reads). A call in flight to a silo
/// that dies is never answered: the Orleans client only gives up at its response timeout, and a gateway cannot
/// tell a lost call from a slow one. Here each attempt gets <see cref="AttemptTimeout"/>; an attempt that times out
/// or finds its silo gone is sent again (by then membership has evicted the dead silo and the grain activates on a
/// survivor), up to <see cref="Attempts"/> attempts. Only for calls whose repetition is harmless: a repeated claim by
/// the holder is answered with the holder's claim, repeated events are de-duplicated by the execution grain, a batch
/// carries its idempotency key. An abandoned attempt may still complete; its repetition then changes nothing.
/// </summary>
public sealed class GrainFailover(int attempts, TimeSpan attemptTimeout)
{
    /// <summary>Pause before the next attempt: long enough for a connection to a dead silo to be dropped.</summary>
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(100);

    public int Attempts { get; } = Math.Max(1, attempts);

    public TimeSpan AttemptTimeout { get; } = attemptTimeout;

    public async Task<T> CallAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var task = call();
                return Attempts == 1 || AttemptTimeout <= TimeSpan.Zero ? await task : await task.WaitAsync(AttemptTimeout, cancellationToken);
            }
            catch (Exception e) when (attempt < Attempts && !cancellationToken.IsCancellationRequested
                                      && e is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException)
            {
                await Task.Delay(Pause, cancellationToken);
            }
        }
    }
}
