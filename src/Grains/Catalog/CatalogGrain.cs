using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using NoEtl.Grains.Audit;
using NoEtl.Grains.Executions;
using NoEtl.Grains.Persistence;
using Orleans.Concurrency;

namespace NoEtl.Grains.Catalog;

/// <summary>What a registration stores, or the field errors that refuse it (with the path once it was read).</summary>
public sealed record CatalogDocument(string Kind, string? Path, JsonObject? Payload, IReadOnlyList<FieldFailure> Errors)
{
    /// <summary>The refusal of a document with <see cref="Errors"/>; null when there are none.</summary>
    public Failure? Refusal => Errors.Count == 0 ? null : Failure.Invalid(Errors);
}

[StatelessWorker]
public sealed partial class CatalogGrain(NpgsqlDataSource database, SnowflakeIds ids, TurnWriter writer, PlaybookLimits limits) : Grain, ICatalogGrain
{
    // NoETL's kind alias table: the YAML's kind wins over the request's resource_type.
    private static readonly Dictionary<string, string> KindAliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["playbook"] = "playbook",
        ["playbooks"] = "playbook",
        ["credential"] = "credential",
        ["secret"] = "credential",
        ["mcp"] = "mcp",
        ["agent"] = "agent",
        ["agents"] = "agent",
        ["memory"] = "memory",
    };

    public Task<Outcome<CatalogRegistration>> Register(string content, string? resourceType) => Register(content, resourceType, onlyIfChanged: false);

    public Task<Outcome<CatalogRegistration>> EnsureRegistered(string content) => Register(content, null, onlyIfChanged: true);

    /// <summary>Reads and validates a registration's content within <paramref name="limits"/> (the silo's, from configuration).</summary>
    public static CatalogDocument ParseDocument(string content, string? resourceType, PlaybookLimits limits)
    {
        JsonObject document;
        try
        {
            document = PlaybookDocument.LoadYaml(content, limits);
        }
        catch (PlaybookFormatException e)
        {
            return new CatalogDocument("", null, null, [new FieldFailure("body.content", e.Message)]);
        }

        var declaredKind = FirstString(document["kind"]) ?? resourceType ?? "playbook";
        if (!KindAliases.TryGetValue(declaredKind, out var kind))
            return new CatalogDocument("", null, null, [new FieldFailure("body.kind", $"unknown resource kind '{declaredKind}'")]);

        var path = FirstString(document["metadata"]?["path"], document["path"], document["metadata"]?["name"], document["name"]) ?? "unknown";
        if (kind is not ("playbook" or "agent"))
            return new CatalogDocument(kind, path, document, []);
        var parsed = Playbook.Parse(document, limits);
        return parsed.Playbook is null
            ? new CatalogDocument(kind, path, null, [.. parsed.Errors.Select(e => new FieldFailure(e.Path, e.Message))])
            : new CatalogDocument(kind, parsed.Playbook.Path, parsed.Playbook.Document, []);
    }

    /// <summary>Why the current caller may not register <paramref name="path"/>, or null.</summary>
    private static string? SystemPathRefusal(string path) =>
        SystemPlaybooks.IsSystemPath(path) && !SystemPlaybooks.MayRegister(Caller.Current)
            ? $"'{path}' is a system path: system playbooks are registered by the server only"
            : null;

    /// <param name="expectedPath">When set, the document must name this path (the editor saves a version of the playbook it opened).</param>
    private async Task<Outcome<CatalogRegistration>> Register(string content, string? resourceType, bool onlyIfChanged, string? expectedPath = null)
    {
        var parsed = ParseDocument(content, resourceType, limits);
        if (parsed.Refusal is { } invalid)
            return await Refused(invalid, parsed.Path);
        var (kind, path, payload) = (parsed.Kind, parsed.Path!, parsed.Payload!);

        if (expectedPath is not null && path != expectedPath)
            return await Refused(Failure.Invalid("body.content", $"the content's path '{path}' is not '{expectedPath}', the path of playbook_id"), path);
        if (SystemPathRefusal(path) is { } refusal)
            return await Refused(Failure.Forbidden(SystemPlaybooks.RefusalCode, refusal), path);

        return await DatabaseCall.Run<CatalogRegistration>(async () =>
        {
            await using var connection = await database.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var lockPath = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext($1))", connection, transaction))
            {
                lockPath.Parameters.AddWithValue(path);
                await lockPath.ExecuteNonQueryAsync();
            }

            if (onlyIfChanged && await LatestWithContentAsync(connection, transaction, path, content) is { } existing)
                return existing;

            var catalogId = ids.Next();
            await using var insert = new NpgsqlBatch(connection, transaction)
            {
                BatchCommands =
                {
                    AuditLog.Insert("catalog.register", "ok", path),
                    new NpgsqlBatchCommand(
                        "INSERT INTO noetl.resource (name, meta) VALUES ($1, jsonb_build_object('executable', $1 IN ('playbook', 'agent'))) ON CONFLICT (name) DO NOTHING")
                    {
                        Parameters = { new() { Value = kind } },
                    },
                    new NpgsqlBatchCommand(
                        """
                        INSERT INTO noetl.catalog (catalog_id, path, version, kind, content, payload, meta)
                        SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5, jsonb_build_object('registered_at', now())
                          FROM noetl.catalog WHERE path = $2
                        RETURNING version
                        """)
                    {
                        Parameters =
                        {
                            new() { Value = catalogId },
                            new() { Value = path },
                            new() { Value = kind },
                            new() { Value = content },
                            new() { Value = payload.ToJsonString(), NpgsqlDbType = NpgsqlDbType.Jsonb },
                        },
                    },
                },
            };
            await using var reader = await insert.ExecuteReaderAsync();
            await reader.ReadAsync();
            var version = Convert.ToInt32(reader.GetValue(0));
            await reader.DisposeAsync();
            await transaction.CommitAsync();

            return new CatalogRegistration("success", $"Resource '{path}' version '{version}' registered.", path, version, catalogId, kind);
        });
    }

    public Task<Outcome<CatalogEntries>> List(string? resourceType, string? path) => DatabaseCall.Run<CatalogEntries>(async () =>
    {
        await using var command = database.CreateCommand(
            $"""
            SELECT {EntryColumns} FROM noetl.catalog
             WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR path = $2)
             ORDER BY created_at DESC, catalog_id DESC
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = NormalizeKind(resourceType) ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = path ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var entries = new List<CatalogEntry>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            entries.Add(ReadEntry(reader));
        return new CatalogEntries(entries);
    });

    public Task<Outcome<CatalogEntry>> Resource(long? catalogId, string? path, int? version) => DatabaseCall.Run<CatalogEntry>(async () =>
    {
        await using var command = database.CreateCommand(
            $"""
            SELECT {EntryColumns} FROM noetl.catalog
             WHERE ($1::bigint IS NULL OR catalog_id = $1)
               AND ($2::text IS NULL OR path = $2)
               AND ($3::int IS NULL OR version = $3)
             ORDER BY version DESC LIMIT 1
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = catalogId ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = path ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = version ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? ReadEntry(reader) : Failure.NotFound(EntryNotFound);
    });

    /// <summary>A refused registration changes nothing, but the attempt is audited.</summary>
    private async Task<Outcome<CatalogRegistration>> Refused(Failure failure, string? path)
    {
        Outcome<CatalogRegistration> refused = failure;
        await writer.RecordAsync(AuditLog.Entry("catalog.register", AuditOutcome.Of(refused), path));
        return refused;
    }

    private static async Task<CatalogRegistration?> LatestWithContentAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string path, string content)
    {
        await using var latest = new NpgsqlCommand(
            "SELECT catalog_id, version, kind, content FROM noetl.catalog WHERE path = $1 ORDER BY version DESC LIMIT 1", connection, transaction);
        latest.Parameters.AddWithValue(path);
        await using var reader = await latest.ExecuteReaderAsync();
        if (!await reader.ReadAsync() || reader.IsDBNull(3) || reader.GetString(3) != content)
            return null;
        var version = (int)reader.GetInt16(1);
        return new CatalogRegistration("unchanged", $"Resource '{path}' version '{version}' already has this content.", path, version, reader.GetInt64(0), reader.GetString(2));
    }

    private const string EntryColumns = "catalog_id, path, version, kind, content, layout::text, payload::text, meta::text, created_at";

    private const string EntryNotFound = "Catalog entry not found";

    private static CatalogEntry ReadEntry(NpgsqlDataReader reader) => new(
        reader.GetInt64(0), reader.GetString(1), reader.GetInt16(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4),
        JsonColumn(reader, 5), JsonColumn(reader, 6), JsonColumn(reader, 7), WireTimes.Utc(reader.GetDateTime(8)));

    private static JsonText? JsonColumn(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : new JsonText(reader.GetString(ordinal));

    private static string? NormalizeKind(string? kind) =>
        kind is null ? null : KindAliases.GetValueOrDefault(kind, kind.ToLowerInvariant());

    private static string? FirstString(params JsonNode?[] candidates) =>
        candidates.OfType<JsonValue>().Select(v => v.TryGetValue<string>(out var s) ? s : null)
            .FirstOrDefault(s => !string.IsNullOrWhiteSpace(s));
}
