using NoEtl.Grains.Keychain;

namespace NoEtl.Grains.Tests.Keychain;

/// <summary>NoETL's cache keys and default lifetimes (noetl-api.md §1.2 (26)).</summary>
public sealed class KeychainEntriesTests
{
    [Theory]
    [InlineData(KeychainScope.Local, 42L, "pg:7:42")]
    [InlineData(KeychainScope.Shared, 42L, "pg:7:shared:42")]
    [InlineData(KeychainScope.Global, 42L, "pg:7:global")]
    [InlineData(KeychainScope.Global, null, "pg:7:global")]
    [InlineData(KeychainScope.Local, null, null)]
    [InlineData(KeychainScope.Shared, null, null)]
    public void Cache_keys(KeychainScope scope, long? executionId, string? expected) =>
        Assert.Equal(expected, KeychainEntries.CacheKey("pg", 7, scope, executionId));

    [Theory]
    [InlineData(KeychainScope.Local, 3600)]
    [InlineData(KeychainScope.Shared, 86400)]
    [InlineData(KeychainScope.Global, 86400)]
    public void Default_lifetimes(KeychainScope scope, int seconds) =>
        Assert.Equal(seconds, KeychainEntries.DefaultTtlSeconds(scope));
}
