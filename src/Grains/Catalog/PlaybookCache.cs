using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Npgsql;

namespace NoEtl.Grains.Catalog;

/// <summary>A registered playbook version as an execution needs it.</summary>
public sealed record CatalogPlaybook(long CatalogId, string Path, int Version, string Kind, Playbook Playbook);

/// <summary>
/// Catalog rows never change once written (a new registration is a new version with a new id), so parsed playbooks
/// are cached per silo by <c>catalog_id</c>. Every registration is a new version, so the cache is bounded: past
/// <see cref="Capacity"/> entries the oldest are dropped (a dropped one is simply read again). They are parsed within
/// the silo's limits: a version registered under larger limits no longer starts or resumes once they were lowered.
/// </summary>
public sealed class PlaybookCache(NpgsqlDataSource database, PlaybookLimits limits)
{
    public const int Capacity = 1_000;

    private readonly ConcurrentDictionary<long, CatalogPlaybook> _byId = new();
    private readonly ConcurrentQueue<long> _insertionOrder = new();

    public int Count => _byId.Count;

    public async Task<CatalogPlaybook?> GetAsync(long catalogId)
    {
        if (_byId.TryGetValue(catalogId, out var cached))
            return cached;
        await using var command = database.CreateCommand(
            "SELECT path, version, kind, payload::text FROM noetl.catalog WHERE catalog_id = $1");
        command.Parameters.AddWithValue(catalogId);
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
            return null;
        var document = JsonNode.Parse(reader.GetString(3))!.AsObject();
        var parsed = Playbook.Parse(document, limits);
        if (parsed.Playbook is null)
            throw new InvalidOperationException(
                $"catalog entry {catalogId} no longer parses: {string.Join("; ", parsed.Errors.Select(e => $"{e.Path}: {e.Message}"))}");
        var entry = new CatalogPlaybook(catalogId, reader.GetString(0), reader.GetInt16(1), reader.GetString(2), parsed.Playbook);
        var stored = _byId.GetOrAdd(catalogId, entry);
        if (ReferenceEquals(stored, entry))
        {
            _insertionOrder.Enqueue(catalogId);
            while (_byId.Count > Capacity && _insertionOrder.TryDequeue(out var oldest))
                _byId.TryRemove(oldest, out _);
        }
        return stored;
    }
}
