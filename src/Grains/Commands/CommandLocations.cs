using System.Collections.Concurrent;
using Npgsql;

namespace NoEtl.Grains.Commands;

/// <summary>
/// Maps a <c>command.issued</c> event id to its execution, so a claim that carries only the event id
/// reaches the owning grain. The mapping never changes, so found entries are cached (bounded).
/// </summary>
public sealed class CommandLocations(NpgsqlDataSource database)
{
    private const int Capacity = 100_000;
    private readonly ConcurrentDictionary<long, long> _executionByEvent = new();

    /// <summary>The owning grain records its commands as it issues them: claims routed through this silo skip the query.</summary>
    public void Remember(long eventId, long executionId)
    {
        if (_executionByEvent.Count >= Capacity)
            _executionByEvent.Clear();
        _executionByEvent[eventId] = executionId;
    }

    public async Task<long?> FindAsync(long eventId)
    {
        if (_executionByEvent.TryGetValue(eventId, out var cached))
            return cached;
        await using var command = database.CreateCommand("SELECT execution_id FROM noetl.command WHERE event_id = $1 LIMIT 1");
        command.Parameters.AddWithValue(eventId);
        if (await command.ExecuteScalarAsync() is not long executionId)
            return null;
        Remember(eventId, executionId); // bounded: past the capacity the cache starts over, entries are cheap to re-read
        return executionId;
    }
}
