namespace NoEtl.Grains;

/// <summary>Answers whether the silo side can reach PostgreSQL; the gateway never asks the database itself.</summary>
[Alias("noetl.IHealthGrain")]
public interface IHealthGrain : IGrainWithIntegerKey
{
    [Alias("DatabaseReachable")] Task<bool> DatabaseReachable();
}
