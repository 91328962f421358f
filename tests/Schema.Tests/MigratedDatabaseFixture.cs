using NoEtl.TestSupport;

namespace NoEtl.Schema.Tests;

/// <summary>One migrated database shared by the tests of a class that only read or insert.</summary>
public sealed class MigratedDatabaseFixture : IAsyncLifetime
{
    public PgTestDatabase Database { get; private set; } = null!;

    public async Task InitializeAsync() => Database = await PgTestDatabase.CreateAsync("shared");

    public async Task DisposeAsync() => await Database.DisposeAsync();
}
