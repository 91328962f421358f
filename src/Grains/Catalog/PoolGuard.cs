using Npgsql;

namespace NoEtl.Grains.Catalog;

/// <summary>
/// A worker principal acts only within its own pool: it may not read or write the keychain of another pool's
/// catalog entries, nor cache a credential into another pool's execution (a user pool reaching into system
/// executions). Operators, the server and development mode are not pool-bound.
/// </summary>
public static class PoolGuard
{
    public static Task<Failure?> CheckCatalogAsync(NpgsqlDataSource database, long catalogId) =>
        CheckAsync(database, "SELECT path FROM noetl.catalog WHERE catalog_id = $1", catalogId, $"catalog entry {catalogId}");

    /// <param name="mustExist">A worker naming an unknown execution is refused too (a secret read needs a real execution of its pool).</param>
    public static Task<Failure?> CheckExecutionAsync(NpgsqlDataSource database, long executionId, bool mustExist = false) =>
        CheckAsync(database,
            "SELECT c.path FROM noetl.execution x JOIN noetl.catalog c ON c.catalog_id = x.catalog_id WHERE x.execution_id = $1",
            executionId, $"execution {executionId}", mustExist);

    private static async Task<Failure?> CheckAsync(NpgsqlDataSource database, string pathQuery, long id, string what, bool mustExist = false)
    {
        var caller = Caller.Current;
        if (caller.Role != Caller.WorkerRole)
            return null;
        await using var command = database.CreateCommand(pathQuery);
        command.Parameters.AddWithValue(id);
        var found = await command.ExecuteScalarAsync() as string;
        if (found is null && mustExist)
            return Failure.Forbidden("unknown_execution", $"{what} is unknown; pool '{caller.Pool}' may not use it");
        // Unknown ids belong to no pool; the route itself answers for them as it always did.
        if (found is not { } path || SystemPlaybooks.PoolOf(path) == caller.Pool)
            return null;
        return Failure.Forbidden("wrong_pool", $"{what} belongs to pool '{SystemPlaybooks.PoolOf(path)}'; pool '{caller.Pool}' may not use it");
    }
}
