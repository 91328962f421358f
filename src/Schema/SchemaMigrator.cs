using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace NoEtl.Schema;

/// <summary>
/// Forward-only, versioned migrations of the NoETL database (schemas <c>noetl</c> and
/// <c>orleans</c>), recorded in <c>noetl_schema.migration</c>.
/// </summary>
public static partial class SchemaMigrator
{
    private const string ResourcePrefix = "NoEtl.Schema.Migrations.";

    /// <summary>The embedded migrations, ordered by version.</summary>
    public static IReadOnlyList<SchemaMigration> Migrations { get; } = LoadEmbeddedMigrations();

    /// <summary>
    /// Brings the database up to date and returns the migrations this call applied (empty when
    /// it was already current). Safe to call from several processes at once: a session advisory
    /// lock serialises them, and each later caller finds nothing left to do.
    /// </summary>
    /// <param name="serverDataSource">Connections as the server role, which must be allowed to
    /// create schemas in the database (its owner) and becomes the owner of what it creates.</param>
    /// <param name="options">Null means defaults.</param>
    /// <param name="logger">Null means no logging.</param>
    /// <param name="cancellationToken">Cancels waiting for the lock or a running script (that
    /// script's transaction rolls back).</param>
    /// <exception cref="InvalidOperationException">An applied migration's checksum differs
    /// from the embedded script.</exception>
    public static async Task<IReadOnlyList<SchemaMigration>> MigrateAsync(
        NpgsqlDataSource serverDataSource,
        SchemaOptions? options = null,
        ILogger? logger = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(serverDataSource);
        options ??= new SchemaOptions();
        logger ??= NullLogger.Instance;

        await using var connection = await serverDataSource.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, null, "SELECT pg_advisory_lock(@key)", options, cancellationToken,
            new NpgsqlParameter<long>("key", options.AdvisoryLockKey));
        try
        {
            // Created under the lock, so concurrent first runs cannot race on CREATE.
            await ExecuteAsync(connection, null, """
                CREATE SCHEMA IF NOT EXISTS noetl_schema;
                CREATE TABLE IF NOT EXISTS noetl_schema.migration (
                    version    integer PRIMARY KEY,
                    name       text NOT NULL,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, options, cancellationToken);

            var applied = await ReadAppliedChecksumsAsync(connection, cancellationToken);
            foreach (var migration in Migrations)
            {
                if (applied.TryGetValue(migration.Version, out var checksum) && checksum != migration.Checksum)
                {
                    throw new InvalidOperationException(
                        $"Schema migration {migration.Version:D4}_{migration.Name} was applied with checksum {checksum}, " +
                        $"but the embedded script now has checksum {migration.Checksum}. Applied migrations must not change: " +
                        "revert the edit and put the change in a new migration.");
                }
            }

            var latestKnown = Migrations.Count == 0 ? 0 : Migrations[^1].Version;
            foreach (var unknown in applied.Keys.Where(v => v > latestKnown))
            {
                // A newer build migrated this database; this build can still run on an additive schema.
                logger.LogWarning("Database has schema migration {Version:D4}, which this build does not know", unknown);
            }

            var newlyApplied = new List<SchemaMigration>();
            foreach (var migration in Migrations.Where(m => !applied.ContainsKey(m.Version)))
            {
                logger.LogInformation("Applying schema migration {Version:D4}_{Name}", migration.Version, migration.Name);
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await ExecuteAsync(connection, transaction, migration.Sql, options, cancellationToken);
                await ExecuteAsync(connection, transaction,
                    "INSERT INTO noetl_schema.migration (version, name, checksum) VALUES (@version, @name, @checksum)",
                    options, cancellationToken,
                    new NpgsqlParameter<int>("version", migration.Version),
                    new NpgsqlParameter<string>("name", migration.Name),
                    new NpgsqlParameter<string>("checksum", migration.Checksum));
                await transaction.CommitAsync(cancellationToken);
                newlyApplied.Add(migration);
            }

            await GrantDiscoveryRoleAsync(connection, options, logger, cancellationToken);
            return newlyApplied;
        }
        finally
        {
            // Also released when the session ends; unlock explicitly so a pooled session never keeps it.
            if (connection.FullState == System.Data.ConnectionState.Open)
            {
                await ExecuteAsync(connection, null, "SELECT pg_advisory_unlock(@key)", options, CancellationToken.None,
                    new NpgsqlParameter<long>("key", options.AdvisoryLockKey));
            }
        }
    }

    /// <summary>
    /// Gives the discovery role exactly what <c>AdoNetGatewayListProvider</c> reads (the query
    /// catalog and the member table) and nothing on schema noetl. A step rather than a migration
    /// because the role name is configuration and the role may be created after the schema.
    /// </summary>
    private static async Task GrantDiscoveryRoleAsync(
        NpgsqlConnection connection, SchemaOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(options.DiscoveryRole))
        {
            return;
        }

        // Identifiers cannot be bound as parameters; quote_ident builds the literal role name safely.
        await using var probe = new NpgsqlCommand("""
            SELECT quote_ident(rolname),
                   has_schema_privilege(oid, 'orleans', 'USAGE')
                   AND has_table_privilege(oid, 'orleans.orleansquery', 'SELECT')
                   AND has_table_privilege(oid, 'orleans.membership', 'SELECT')
                   AND NOT has_schema_privilege(oid, 'noetl', 'USAGE')
            FROM pg_roles WHERE rolname = @role
            """, connection);
        probe.Parameters.Add(new NpgsqlParameter<string>("role", options.DiscoveryRole));
        string quotedRole;
        await using (var reader = await probe.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                logger.LogInformation("Discovery role {Role} does not exist; no gateway-list grants", options.DiscoveryRole);
                return;
            }

            if (reader.GetBoolean(1))
            {
                return;
            }

            quotedRole = reader.GetString(0);
        }

        logger.LogInformation("Granting gateway-list read access to {Role}", options.DiscoveryRole);
        await ExecuteAsync(connection, null, $"""
            GRANT USAGE ON SCHEMA orleans TO {quotedRole};
            GRANT SELECT ON orleans.orleansquery, orleans.membership TO {quotedRole};
            REVOKE ALL ON SCHEMA noetl FROM {quotedRole}
            """, options, cancellationToken);
    }

    private static async Task<Dictionary<int, string>> ReadAppliedChecksumsAsync(
        NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var applied = new Dictionary<int, string>();
        await using var command = new NpgsqlCommand("SELECT version, checksum FROM noetl_schema.migration", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            applied.Add(reader.GetInt32(0), reader.GetString(1));
        }

        return applied;
    }

    private static async Task ExecuteAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction? transaction,
        string sql,
        SchemaOptions options,
        CancellationToken cancellationToken,
        params NpgsqlParameter[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction)
        {
            CommandTimeout = options.CommandTimeoutSeconds,
        };
        command.Parameters.AddRange(parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static List<SchemaMigration> LoadEmbeddedMigrations()
    {
        var assembly = typeof(SchemaMigrator).Assembly;
        var migrations = new List<SchemaMigration>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            var match = MigrationFileName().Match(resource[ResourcePrefix.Length..]);
            if (!match.Success)
            {
                throw new InvalidOperationException($"Embedded migration '{resource}' is not named NNNN_name.sql.");
            }

            var sql = ReadResource(assembly, resource).ReplaceLineEndings("\n");
            var checksum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
            migrations.Add(new SchemaMigration(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture),
                match.Groups[2].Value, checksum, sql));
        }

        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 1; i < migrations.Count; i++)
        {
            if (migrations[i].Version == migrations[i - 1].Version)
            {
                throw new InvalidOperationException($"Two embedded migrations have version {migrations[i].Version:D4}.");
            }
        }

        return migrations;
    }

    private static string ReadResource(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    [GeneratedRegex(@"^(\d{4})_([a-z0-9_]+)\.sql$")]
    private static partial Regex MigrationFileName();
}
