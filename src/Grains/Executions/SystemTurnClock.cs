using NoEtl.Grains.Executions.Aggregate;
using NoEtl.Grains.Persistence;

namespace NoEtl.Grains.Executions;

/// <summary>The silo's clock and snowflake ids, as the execution aggregate receives them.</summary>
public sealed class SystemTurnClock(SnowflakeIds ids) : ITurnClock
{
    public long NextId() => ids.Next();

    public DateTime UtcNow => DateTime.UtcNow;
}
