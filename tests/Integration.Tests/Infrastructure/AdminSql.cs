using Npgsql;

namespace NoEtl.Integration.Tests.Infrastructure;

/// <summary>SQL as the database owner, for what a test arranges or checks behind the API's back.</summary>
public static class AdminSql
{
    public static async Task<object?> AdminScalarAsync(this NoEtlSystem system, string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(system.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
            command.Parameters.AddWithValue(parameter);
        return await command.ExecuteScalarAsync();
    }

    /// <summary>A count (or any bigint) read as the database owner.</summary>
    public static async Task<long> AdminCountAsync(this NoEtlSystem system, string sql, params object[] parameters) =>
        (long)(await system.AdminScalarAsync(sql, parameters))!;

    /// <summary>
    /// Makes every insert into <paramref name="table"/> that matches <paramref name="condition"/> (on <c>NEW</c>) fail
    /// until the returned handle is disposed: a fault in one part of a transaction, injected from outside.
    /// </summary>
    public static async Task<IAsyncDisposable> FailInsertsAsync(this NoEtlSystem system, string table, string condition)
    {
        var name = $"test_fail_{Guid.NewGuid():N}";
        await system.AdminScalarAsync(
            $"""
            CREATE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'injected failure ({name})'; END $$;
            CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW WHEN ({condition}) EXECUTE FUNCTION public.{name}();
            """);
        return new Removal(system, table, name);
    }

    private sealed class Removal(NoEtlSystem system, string table, string name) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() =>
            await system.AdminScalarAsync($"DROP TRIGGER {name} ON {table}; DROP FUNCTION public.{name}();");
    }
}
