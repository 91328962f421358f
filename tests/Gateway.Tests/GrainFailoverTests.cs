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

    [Fact]
    public async Task A_repeatable_call_in_flight_when_a_gateway_connection_closes_is_sent_again_at_once()
    {
        var failover = new GrainFailover(attempts: 3, attemptTimeout: TimeSpan.FromMinutes(10));
        var calls = 0;
        var firstSent = new TaskCompletionSource();
        var answer = failover.CallAsync(() =>
        {
            if (Interlocked.Increment(ref calls) > 1)
                return Task.FromResult(calls);
            firstSent.SetResult();
            return new TaskCompletionSource<int>().Task; // lost with its gateway: never answered
        }, CancellationToken.None);
        await firstSent.Task;
        failover.GatewayLost();
        Assert.Equal(2, await answer.WaitAsync(TimeSpan.FromSeconds(30))); // without the re-send: the 10-minute timeout
    }

    [Fact]
    public async Task A_call_that_would_be_stored_twice_is_not_sent_again_when_a_gateway_connection_closes()
    {
        var failover = new GrainFailover(attempts: 3, attemptTimeout: TimeSpan.FromMinutes(10));
        var calls = 0;
        var release = new TaskCompletionSource<int>();
        var answer = failover.CallAsync(() => Interlocked.Increment(ref calls) == 1 ? release.Task : Task.FromResult(-1),
            CancellationToken.None, repeatAfterTimeout: false);
        failover.GatewayLost();
        release.SetResult(1);
        Assert.Equal(1, await answer.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Closed_gateway_connections_send_a_call_again_at_most_the_attempt_count()
    {
        var failover = new GrainFailover(attempts: 2, attemptTimeout: TimeSpan.FromMinutes(10));
        var sent = System.Threading.Channels.Channel.CreateUnbounded<int>();
        var calls = 0;
        var lastAttempt = new TaskCompletionSource<int>();
        var answer = failover.CallAsync(() =>
        {
            var call = Interlocked.Increment(ref calls);
            sent.Writer.TryWrite(call);
            return call <= 2 ? new TaskCompletionSource<int>().Task : lastAttempt.Task;
        }, CancellationToken.None);
        for (var call = 1; call <= 3; call++)
        {
            Assert.Equal(call, await sent.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
            failover.GatewayLost();
        }
        // Two re-sends used: the third attempt is awaited through this loss too.
        await Task.Delay(300);
        Assert.False(sent.Reader.TryRead(out _));
        lastAttempt.SetResult(3);
        Assert.Equal(3, await answer.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_call_refused_again_and_again_is_sent_again_backing_off_within_the_attempts_time()
    {
        var failover = new GrainFailover(attempts: 3, attemptTimeout: TimeSpan.FromSeconds(2)); // refusals for up to 6 s
        var calls = 0;
        var answer = await failover.CallAsync(() => Interlocked.Increment(ref calls) <= 4
            ? Task.FromException<int>(new SiloUnavailableException("silo gone, not yet voted out"))
            : Task.FromResult(calls), CancellationToken.None);
        Assert.Equal(5, answer); // more refusals than attempts: 100 + 200 + 400 + 800 ms of backing off
    }

    [Fact]
    public async Task A_call_refused_for_longer_than_the_attempts_time_fails_with_the_refusal()
    {
        var failover = new GrainFailover(attempts: 2, attemptTimeout: TimeSpan.FromMilliseconds(200));
        var calls = 0;
        await Assert.ThrowsAsync<SiloUnavailableException>(() => failover.CallAsync(() =>
        {
            Interlocked.Increment(ref calls);
            return Task.FromException<int>(new SiloUnavailableException("silo gone"));
        }, CancellationToken.None));
        Assert.InRange(calls, 2, 5); // 400 ms: 100 + 200 (+ 400) ms of backing off
    }

    [Fact]
    public async Task A_call_that_would_be_stored_twice_is_not_sent_again_after_a_response_timeout()
    {
        var calls = 0;
        await Assert.ThrowsAsync<TimeoutException>(() => Failover.CallAsync(() =>
        {
            Interlocked.Increment(ref calls);
            return Task.FromException<int>(new TimeoutException("response did not arrive on time"));
        }, CancellationToken.None, repeatAfterTimeout: false));
        Assert.Equal(1, calls);
    }
}
