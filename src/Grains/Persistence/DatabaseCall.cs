namespace NoEtl.Grains.Persistence;

/// <summary>Runs a database-backed call, turning "try again later" failures into an <see cref="FailureKind.Unavailable"/> outcome.</summary>
public static class DatabaseCall
{
    public static async Task<Outcome<T>> Run<T>(Func<Task<Outcome<T>>> call)
        where T : class
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (DatabaseUnavailable.CodeOf(e) is { } code)
        {
            return DatabaseUnavailable.Failure(code);
        }
    }
}
