namespace NoEtl.Grains.Watchdog;

[OnKeyedSiloPlacement]
public sealed class SiloDatabaseProbeGrain(DatabaseProbe probe) : Grain, ISiloDatabaseProbeGrain
{
    public Task<bool> ReachesDatabase() => probe.ReachesAsync(CancellationToken.None);
}
