namespace NoEtl.Grains.Persistence;

/// <summary>Runs a database-backed reply, turning "try again later" failures into the 503 contract.</summary>
public static class DatabaseCall
{
    public static async Task<Reply> Run(Func<Task<Reply>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (DatabaseUnavailable.CodeOf(e) is { } code)
        {
            return DatabaseUnavailable.Reply(code);
        }
    }

    /// <summary>The typed form: "try again later" failures become an <see cref="FailureKind.Unavailable"/> outcome.</summary>
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
