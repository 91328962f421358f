using Microsoft.Extensions.Hosting;

namespace NoEtl.Grains.Security;

/// <summary>
/// Builds the key ring when the host starts, before Orleans does, so a silo without a usable encryption key
/// fails at start-up with a clear message instead of at the first credential request.
/// </summary>
public sealed class KeyRingStartupCheck(KeyRing keys) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => keys.ActiveKeyId.Length > 0
        ? Task.CompletedTask
        : throw new KeyRingException("the key ring has no active key");

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
