using Npgsql;
using NpgsqlTypes;
using NoEtl.Grains.Persistence;

namespace NoEtl.Grains.Catalog;

/// <summary>What NoETL's web GUI asks of the catalog beyond the CLI's routes: its editor, its Run dialog.</summary>
public sealed partial class CatalogGrain
{
    public Task<PlaybookValidation> Validate(string content, string? resourceType)
    {
        var parsed = ParseDocument(content, resourceType, limits);
        var errors = parsed.Errors.Select(e => $"{LocationOf(e.Field)}: {e.Message}").ToList();
        if (errors.Count == 0 && SystemPathRefusal(parsed.Path!) is { } refusal)
            errors.Add(refusal);
        return Task.FromResult(new PlaybookValidation(errors.Count == 0, errors));
    }

    public Task<Outcome<PlaybookContent>> Content(string playbookId) => DatabaseCall.Run<PlaybookContent>(async () =>
        await FindAsync(playbookId) is { } entry ? new PlaybookContent(entry.Content ?? "") : Failure.NotFound(EntryNotFound));

    // A catalog id saves into that entry's path; anything else is the path itself (a new path starts at version 1).
    public Task<Outcome<CatalogRegistration>> RegisterAt(string playbookId, string content) => DatabaseCall.Run(async () =>
        await Register(content, null, onlyIfChanged: false, expectedPath: (await FindAsync(playbookId))?.Path ?? playbookId));

    public Task<Outcome<RunForm>> UiSchema(string path, int? version) => DatabaseCall.Run<RunForm>(async () =>
    {
        await using var command = database.CreateCommand(
            """
            SELECT version, kind, content FROM noetl.catalog
             WHERE path = $1 AND ($2::int IS NULL OR version = $2)
             ORDER BY version DESC LIMIT 1
            """);
        command.Parameters.AddWithValue(path);
        command.Parameters.Add(new NpgsqlParameter { Value = version ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
            return Failure.NotFound(EntryNotFound);
        var (found, kind, content) = ((int)reader.GetInt16(0), reader.GetString(1), reader.IsDBNull(2) ? "" : reader.GetString(2));
        try
        {
            return PlaybookUiSchema.Build(path, found, kind, content, limits);
        }
        catch (PlaybookFormatException e)
        {
            // Stored before today's limits (or by NoETL's Python server): the entry exists but has no form.
            return Failure.Invalid($"{path} version {found} cannot be read: {e.Message}");
        }
    });

    /// <summary>By catalog id when <paramref name="playbookId"/> is one, else the latest version of that path.</summary>
    private async Task<(string Path, string? Content)?> FindAsync(string playbookId)
    {
        await using var command = database.CreateCommand(
            """
            SELECT path, content FROM noetl.catalog
             WHERE catalog_id = $1 OR path = $2
             ORDER BY (catalog_id IS NOT DISTINCT FROM $1) DESC, version DESC
             LIMIT 1
            """);
        command.Parameters.Add(new NpgsqlParameter
        {
            Value = long.TryParse(playbookId, out var catalogId) ? catalogId : (object)DBNull.Value,
            NpgsqlDbType = NpgsqlDbType.Bigint,
        });
        command.Parameters.AddWithValue(playbookId);
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? (reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)) : null;
    }

    /// <summary>"body.content" → "content": the editor shows where in the document, not where in the request.</summary>
    private static string LocationOf(string location) => location.StartsWith("body.", StringComparison.Ordinal) ? location[5..] : location;
}
