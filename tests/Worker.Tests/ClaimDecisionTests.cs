using NoEtl.Worker.Commands;

namespace NoEtl.Worker.Tests;

public class ClaimDecisionTests
{
    [Theory]
    [InlineData(200, ClaimDecision.Run)]
    [InlineData(201, ClaimDecision.Run)]
    [InlineData(409, ClaimDecision.Drop)]
    [InlineData(429, ClaimDecision.Retry)]
    [InlineData(408, ClaimDecision.Retry)]
    [InlineData(500, ClaimDecision.Retry)]
    [InlineData(502, ClaimDecision.Retry)]
    [InlineData(503, ClaimDecision.Retry)]
    [InlineData(504, ClaimDecision.Retry)]
    [InlineData(404, ClaimDecision.Retry)]
    public void Maps_claim_status_to_ack_drop_or_nak(int status, ClaimDecision expected) =>
        Assert.Equal(expected, ClaimDecisions.FromStatus(status));

    [Fact]
    public void Nak_delay_prefers_retry_after_and_is_capped()
    {
        Assert.Equal(TimeSpan.FromSeconds(2), ClaimDecisions.NakDelay(5, TimeSpan.FromSeconds(2)));
        Assert.Equal(TimeSpan.FromSeconds(30), ClaimDecisions.NakDelay(1, TimeSpan.FromMinutes(5)));
        Assert.Equal(TimeSpan.FromSeconds(1), ClaimDecisions.NakDelay(1, null));
        Assert.Equal(TimeSpan.FromSeconds(30), ClaimDecisions.NakDelay(100, null));
    }
}
