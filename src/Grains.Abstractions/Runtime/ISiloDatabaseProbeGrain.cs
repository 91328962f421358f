namespace NoEtl.Grains;

/// <summary>
/// One activation on each silo (keyed by that silo's address): asks the silo it runs on whether it reaches PostgreSQL.
/// A silo whose own probes fail asks its peers through it, to tell "I am cut off" from "the database is down".
/// </summary>
[Alias("noetl.ISiloDatabaseProbeGrain")]
public interface ISiloDatabaseProbeGrain : IGrainWithStringKey
{
    [Alias("ReachesDatabase")] Task<bool> ReachesDatabase();
}
