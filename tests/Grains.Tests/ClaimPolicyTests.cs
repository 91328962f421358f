using NoEtl.Grains.Commands;
using NoEtl.Grains.Hosting;

namespace NoEtl.Grains.Tests;

/// <summary>NoETL's lease policy (noetl-api.md §4.2), decision by decision.</summary>
public sealed class ClaimPolicyTests
{
    private static readonly ServerOptions Options = new() { ClaimLeaseSeconds = 120, WorkerHeartbeatStaleSeconds = 30, HealthyWorkerHardTimeoutSeconds = 1800 };
    private static readonly DateTime Now = new(2026, 11, 27, 12, 0, 0, DateTimeKind.Utc);

    private static CommandRecord Command(string status, string? worker = null, double claimedSecondsAgo = 0) =>
        new(1, 2, "step", "noop", [], [], 1)
        {
            Status = status,
            WorkerId = worker,
            ClaimedAt = worker is null ? null : Now.AddSeconds(-claimedSecondsAgo),
        };

    [Fact]
    public void A_pending_command_is_granted() =>
        Assert.Equal(ClaimVerdict.Grant, ClaimPolicy.Decide(Command("PENDING"), false, "w", Now, Options, null).Verdict);

    [Theory]
    [InlineData("COMPLETED")]
    [InlineData("FAILED")]
    [InlineData("CANCELLED")]
    public void A_terminal_command_is_terminal(string status) =>
        Assert.Equal(ClaimVerdict.Terminal, ClaimPolicy.Decide(Command(status, "w", 5), false, "w", Now, Options, null).Verdict);

    [Fact]
    public void A_terminal_execution_makes_every_command_terminal() =>
        Assert.Equal(ClaimVerdict.Terminal, ClaimPolicy.Decide(Command("PENDING"), true, "w", Now, Options, null).Verdict);

    [Fact]
    public void The_same_worker_repeating_a_claim_gets_it_again() =>
        Assert.Equal(ClaimVerdict.Repeat, ClaimPolicy.Decide(Command("CLAIMED", "w", 500), false, "w", Now, Options, null).Verdict);

    [Fact]
    public void The_same_worker_already_running_it_is_told_so()
    {
        var decision = ClaimPolicy.Decide(Command("RUNNING", "w", 10), false, "w", Now, Options, null);
        Assert.Equal(ClaimVerdict.Held, decision.Verdict);
        Assert.True(decision.HolderRunning);
    }

    [Fact]
    public void Another_worker_within_the_lease_is_refused_without_asking_for_liveness()
    {
        var command = Command("CLAIMED", "holder", 119);
        Assert.False(ClaimPolicy.NeedsHolderLiveness(command, "other", Now, Options));
        Assert.Equal(ClaimVerdict.Held, ClaimPolicy.Decide(command, false, "other", Now, Options, null).Verdict);
    }

    [Theory]
    [InlineData(null, 0.0, "worker_inactive")]
    [InlineData("offline", 0.0, "worker_inactive")]
    [InlineData("ready", 30.0, "worker_heartbeat_stale")]
    public void After_the_lease_a_gone_holder_loses_the_claim(string? status, double heartbeatAge, string reason)
    {
        var command = Command("RUNNING", "holder", 121);
        Assert.True(ClaimPolicy.NeedsHolderLiveness(command, "other", Now, Options));
        var holder = status is null ? null : new HolderLiveness(status, heartbeatAge);
        var decision = ClaimPolicy.Decide(command, false, "other", Now, Options, holder);
        Assert.Equal(ClaimVerdict.Grant, decision.Verdict);
        Assert.Equal(reason, decision.ReclaimReason);
    }

    [Fact]
    public void A_healthy_holder_keeps_the_claim_until_the_hard_timeout()
    {
        var healthy = new HolderLiveness("ready", 5);
        Assert.Equal(ClaimVerdict.Held, ClaimPolicy.Decide(Command("RUNNING", "holder", 1799), false, "other", Now, Options, healthy).Verdict);
        var late = ClaimPolicy.Decide(Command("RUNNING", "holder", 1800), false, "other", Now, Options, healthy);
        Assert.Equal(ClaimVerdict.Grant, late.Verdict);
        Assert.Equal("healthy_worker_hard_timeout", late.ReclaimReason);
    }
}
