namespace NoEtl.Integration.Tests.Faults;

/// <summary>The recovery figure the fault and partition suites gate on: when a load is back, and when it never came back.</summary>
public sealed class ThroughputTests
{
    private static readonly DateTime FaultAt = new(2026, 12, 3, 2, 22, 44, DateTimeKind.Utc);

    /// <summary>Ten completions a second from <paramref name="from"/> to <paramref name="to"/> seconds around the fault.</summary>
    private static IEnumerable<DateTime> Steady(int from, int to) =>
        Enumerable.Range(from * 10, (to - from) * 10).Select(tenth => FaultAt.AddMilliseconds(tenth * 100));

    [Fact]
    public void A_load_that_stops_at_the_fault_and_never_resumes_has_no_recovery()
    {
        var (_, recovery, _, _) = FaultRun.Throughput([.. Steady(-6, 1)], FaultAt, baseline: 10, window: TimeSpan.FromSeconds(1));
        Assert.Null(recovery);
    }

    [Fact]
    public void A_load_back_at_its_rate_three_seconds_after_the_fault_recovers_then()
    {
        var (_, recovery, _, _) = FaultRun.Throughput([.. Steady(-6, 0), .. Steady(3, 12)], FaultAt, baseline: 10, window: TimeSpan.FromSeconds(1));
        Assert.NotNull(recovery);
        Assert.InRange(recovery.Value, 2.5, 3.5);
    }

    [Fact]
    public void A_fault_that_does_not_show_in_throughput_recovers_at_once()
    {
        var (_, recovery, _, _) = FaultRun.Throughput([.. Steady(-6, 12)], FaultAt, baseline: 10, window: TimeSpan.FromSeconds(1));
        Assert.Equal(0, recovery);
    }
}
