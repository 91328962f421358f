using NoEtl.ApiGateway.Http;

namespace NoEtl.Gateway.Tests;

/// <summary>
/// What the gateway's fast failover sends again: every call that never reached a live silo, and after a timeout only
/// calls whose repetition the grains absorb (a heartbeat sent twice would be stored twice).
/// </summary>
public sealed class GrainFailoverTests
{
    private static readonly GrainFailover Failover = new(attempts: 3, attemptTimeout: TimeSpan.FromMilliseconds(100));

    [Fact]
    public async Task A_slow_repeatable_call_is_sent_again_after_the_attempt_timeout()
    {
        var calls = 0;
        var answer = await Failover.CallAsync(async () =>
        {
            var call = Interlocked.Increment(ref calls);
            await Task.Delay(call == 1 ? 2_000 : 0);
            return call;
        }, CancellationToken.None);
        Assert.Equal(2, answer);
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task A_slow_call_that_would_be_stored_twice_is_awaited_not_repeated()
    {
        var calls = 0;
        var answer = await Failover.CallAsync(async () =>
        {
            var call = Interlocked.Increment(ref calls);
            await Task.Delay(call == 1 ? 500 : 0);
            return call;
        }, CancellationToken.None, repeatAfterTimeout: false);
        Assert.Equal(1, answer);
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task A_call_whose_silo_is_gone_is_sent_again_either_way()
    {
        var calls = 0;
        var answer = await Failover.CallAsync(() => Interlocked.Increment(ref calls) == 1
            ? Task.FromException<int>(new SiloUnavailableException("silo gone"))
            : Task.FromResult(calls), CancellationToken.None, repeatAfterTimeout: false);
        Assert.Equal(2, answer);
    }
}
