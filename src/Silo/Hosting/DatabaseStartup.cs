using NoEtl.Grains.Persistence;

namespace NoEtl.Silo.Hosting;

/// <summary>
/// Start-up work that needs PostgreSQL (migrations, the snowflake node id) waits for a database that is not reachable
/// yet — a pod started before its database, a host under load — instead of crashing on the first timeout. Only
/// "try again later" failures are retried (<see cref="DatabaseUnavailable"/>), until the deadline; anything else
/// (a checksum mismatch, bad credentials) fails at once.
/// </summary>
public static class DatabaseStartup
{
    public static async Task<T> WaitForAsync<T>(Func<Task<T>> work, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await work();
            }
            catch (Exception e) when (DatabaseUnavailable.CodeOf(e) is not null && DateTime.UtcNow < deadline)
            {
                Console.Error.WriteLine($"noetl-silo: {what}: PostgreSQL not available yet (attempt {attempt}: {e.Message}); retrying");
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 5)));
            }
        }
    }
}
