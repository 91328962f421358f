namespace NoEtl.Integration.Tests.Infrastructure;

/// <summary>Polls a condition until it holds or the deadline passes: waits that prove something, not sleeps.</summary>
public static class Eventually
{
    public static async Task WaitForAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"timed out waiting for {what}");
            await Task.Delay(100);
        }
    }
}
