namespace NoEtl.Grains;

/// <summary>
/// The server's own schedule of system playbooks (today <c>system/scheduled_cleanup</c>). A persistent reminder, so
/// exactly one silo of the cluster starts each run and the schedule survives silo restarts.
/// </summary>
[Alias("noetl.ISystemScheduleGrain")]
public interface ISystemScheduleGrain : IGrainWithIntegerKey
{
    /// <summary>Registers (or, with the interval 0, removes) the schedule; called by every silo at start.</summary>
    [Alias("Ensure")] Task Ensure();
}
