using Npgsql;
using Orleans.Concurrency;

namespace NoEtl.Grains.Runtime;

[StatelessWorker]
public sealed class HealthGrain(NpgsqlDataSource database) : Grain, IHealthGrain
{
    public async Task<bool> DatabaseReachable()
    {
        try
        {
            await using var command = database.CreateCommand("SELECT 1");
            command.CommandTimeout = 2;
            return await command.ExecuteScalarAsync() is 1;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            return false;
        }
    }
}
