using NoEtl.Schema;
using Npgsql;

namespace NoEtl.TestSupport;

/// <summary>
/// A throwaway, migrated database on the local test server (scripts/pg.sh), owned by the server
/// role. Create one per fixture; dispose drops it.
/// </summary>
/// <remarks>
/// The superuser (env <c>NOETL_PG_ADMIN</c>) creates and drops databases, so the server role
/// needs no CREATEDB. Connection strings: <see cref="ServerConnectionString"/> is what a silo
/// uses (NoETL SQL schema-qualifies <c>noetl.</c>; <c>Search Path=orleans</c> lets the Orleans
/// providers find <c>orleansquery</c>); <see cref="DiscoveryConnectionString"/> is what the API
/// gateway's Orleans client uses.
/// </remarks>
public sealed class PgTestDatabase : IAsyncDisposable
{
    public const string ServerRole = "noetl_server";
    public const string DiscoveryRole = "noetl_gateway";

    private bool _dropped;

    private PgTestDatabase(string databaseName, NpgsqlConnectionStringBuilder admin)
    {
        DatabaseName = databaseName;
        MaintenanceConnectionString = admin.ConnectionString;
        AdminConnectionString = new NpgsqlConnectionStringBuilder(admin.ConnectionString) { Database = databaseName }.ConnectionString;
        ServerConnectionString = RoleConnectionString(admin, databaseName, ServerRole);
        DiscoveryConnectionString = RoleConnectionString(admin, databaseName, DiscoveryRole);
    }

    /// <summary>
    /// Superuser connection to the maintenance database: env <c>NOETL_PG_ADMIN</c>, else
    /// postgres/postgres on 127.0.0.1:${NOETL_PG_PORT:-55432}.
    /// </summary>
    public static string DefaultAdminConnectionString =>
        Environment.GetEnvironmentVariable("NOETL_PG_ADMIN")
        ?? $"Host=127.0.0.1;Port={Environment.GetEnvironmentVariable("NOETL_PG_PORT") ?? "55432"};Username=postgres;Password=postgres;Database=postgres";

    public string DatabaseName { get; }

    /// <summary>Superuser, connected to the maintenance database (create/drop databases).</summary>
    public string MaintenanceConnectionString { get; }

    /// <summary>Superuser, connected to this database (test set-up that bypasses privileges).</summary>
    public string AdminConnectionString { get; }

    /// <summary>Role noetl_server on this database, <c>Search Path=orleans</c>.</summary>
    public string ServerConnectionString { get; }

    /// <summary>Role noetl_gateway on this database, <c>Search Path=orleans</c>.</summary>
    public string DiscoveryConnectionString { get; }

    /// <summary>
    /// Creates database <c>noetl_t_&lt;prefix&gt;_&lt;random&gt;</c> owned by noetl_server (creating the
    /// two roles if the server lacks them) and, unless <paramref name="migrate"/> is false, runs
    /// <see cref="SchemaMigrator"/> on it as noetl_server.
    /// </summary>
    /// <param name="adminConnectionString">Another server's superuser (e.g. a test's dedicated cluster); default <see cref="DefaultAdminConnectionString"/>.</param>
    public static async Task<PgTestDatabase> CreateAsync(string prefix, bool migrate = true, CancellationToken cancellationToken = default, string? adminConnectionString = null)
    {
        var admin = new NpgsqlConnectionStringBuilder(adminConnectionString ?? DefaultAdminConnectionString);
        var safePrefix = new string(prefix.ToLowerInvariant().Where(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_').Take(24).ToArray());
        var random = Guid.NewGuid().ToString("N")[..12];
        var database = new PgTestDatabase(safePrefix.Length == 0 ? $"noetl_t_{random}" : $"noetl_t_{safePrefix}_{random}", admin);

        await using (var connection = new NpgsqlConnection(admin.ConnectionString))
        {
            await connection.OpenAsync(cancellationToken);
            await EnsureRolesAsync(connection, cancellationToken);
            // template0: no one can be connected to it, so parallel fixtures never collide on the template.
            await using var create = new NpgsqlCommand(
                $"CREATE DATABASE {Quote(database.DatabaseName)} OWNER {ServerRole} TEMPLATE template0 ENCODING 'UTF8'", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        if (migrate)
        {
            await using var dataSource = NpgsqlDataSource.Create(database.ServerConnectionString);
            await SchemaMigrator.MigrateAsync(dataSource, new SchemaOptions { DiscoveryRole = DiscoveryRole }, null, cancellationToken);
        }

        return database;
    }

    /// <summary>Drops the database, terminating any sessions still connected. Idempotent.</summary>
    public async Task DropAsync()
    {
        if (_dropped)
        {
            return;
        }

        foreach (var connectionString in new[] { AdminConnectionString, ServerConnectionString, DiscoveryConnectionString })
        {
            await using var pooled = new NpgsqlConnection(connectionString);
            NpgsqlConnection.ClearPool(pooled);
        }

        await using var connection = new NpgsqlConnection(MaintenanceConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Quote(DatabaseName)} WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
        _dropped = true;
    }

    public async ValueTask DisposeAsync() => await DropAsync();

    private static async Task EnsureRolesAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        // Roles are cluster-wide; the transaction-scoped advisory lock keeps parallel fixtures
        // from racing on CREATE ROLE. scripts/pg.sh normally created them already.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            SELECT pg_advisory_xact_lock(hashtext('noetl test roles'));
            DO $$
            BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ServerRole}') THEN
                    CREATE ROLE {ServerRole} LOGIN PASSWORD '{ServerRole}';
                END IF;
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{DiscoveryRole}') THEN
                    CREATE ROLE {DiscoveryRole} LOGIN PASSWORD '{DiscoveryRole}';
                END IF;
            END
            $$
            """, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    // The role passwords equal the role names (scripts/pg.sh sets them).
    private static string RoleConnectionString(NpgsqlConnectionStringBuilder admin, string database, string role) =>
        new NpgsqlConnectionStringBuilder(admin.ConnectionString)
        {
            Database = database,
            Username = role,
            Password = role,
            SearchPath = "orleans",
        }.ConnectionString;

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
