using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using NoEtl.Grains.Persistence;
using Orleans.Concurrency;

namespace NoEtl.Grains.Runtime;

/// <summary>
/// The worker registry over <c>noetl.runtime</c> (kind <c>worker_pool</c>); liveness feeds the claim policy. An entry
/// belongs to the pool of the principal that registered it (<c>runtime.principal_pool</c>): another pool may not
/// re-register, heartbeat or deregister it (403 <c>wrong_pool</c>), or a user pool could keep a dead system worker
/// looking alive and hold its commands.
/// </summary>
[StatelessWorker]
public sealed class WorkerPoolGrain(NpgsqlDataSource database, SnowflakeIds ids) : Grain, IWorkerPoolGrain
{
    public Task<Outcome<WorkerRegistered>> Register(WorkerRegistration registration) => DatabaseCall.Run<WorkerRegistered>(async () =>
        await UpsertAsync(registration) is { } runtimeId
            ? new WorkerRegistered(registration.Name, runtimeId, registration.Runtime)
            : ForeignPool(registration.Name));

    /// <summary>
    /// NoETL answers 404 for an unknown worker, but the Rust worker never re-registers after that,
    /// so an unknown worker is registered from the heartbeat instead.
    /// </summary>
    public Task<Outcome<WorkerHeartbeat>> Heartbeat(string name, WorkerRegistration? registration) => DatabaseCall.Run<WorkerHeartbeat>(async () =>
    {
        await using var command = database.CreateCommand(
            $"""
            UPDATE noetl.runtime SET heartbeat = now(), status = 'ready', updated_at = now()
             WHERE kind = 'worker_pool' AND name = $1 AND {OwnPool("runtime", "$2")}
            RETURNING runtime_id
            """);
        command.Parameters.AddWithValue(name);
        AddCallerPool(command.Parameters);
        var existing = await command.ExecuteScalarAsync();
        var status = "ok";
        long runtimeId;
        if (existing is long id)
        {
            runtimeId = id;
        }
        else if (await UpsertAsync(registration ?? new WorkerRegistration(name, null, null, "ready", null, null, null, null, null)) is { } recreated)
        {
            runtimeId = recreated;
            status = "recreated";
        }
        else
        {
            return ForeignPool(name);
        }
        return new WorkerHeartbeat(status, name, runtimeId);
    });

    public Task<Outcome<WorkerDeregistered>> Deregister(string name) => DatabaseCall.Run<WorkerDeregistered>(async () =>
    {
        await using var command = database.CreateCommand(
            $"""
            WITH entry AS (SELECT runtime_id, {OwnPool("runtime", "$2")} AS own FROM noetl.runtime WHERE kind = 'worker_pool' AND name = $1),
                 offline AS (UPDATE noetl.runtime r SET status = 'offline', updated_at = now()
                               FROM entry WHERE r.runtime_id = entry.runtime_id AND entry.own RETURNING r.runtime_id)
            SELECT (SELECT own FROM entry)
            """);
        command.Parameters.AddWithValue(name);
        AddCallerPool(command.Parameters);
        return await command.ExecuteScalarAsync() switch
        {
            true => new WorkerDeregistered(name),
            false => ForeignPool(name),
            _ => Failure.NotFound($"worker not found: {name}"),
        };
    });

    public Task<Outcome<WorkerPoolList>> List(string? runtime, string? status) => DatabaseCall.Run<WorkerPoolList>(async () =>
    {
        await using var command = database.CreateCommand(
            """
            SELECT name, runtime::text, status, capacity, labels::text, heartbeat, created_at, updated_at
              FROM noetl.runtime
             WHERE kind = 'worker_pool' AND ($1::text IS NULL OR runtime->>'type' = $1) AND ($2::text IS NULL OR status = $2)
             ORDER BY name
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = runtime ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = status?.ToLowerInvariant() ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var items = new List<WorkerPoolEntry>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            items.Add(new WorkerPoolEntry(
                reader.GetString(0),
                reader.IsDBNull(1) ? null : new JsonText(reader.GetString(1)),
                reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetInt32(3),
                reader.IsDBNull(4) ? null : new JsonText(reader.GetString(4)),
                reader.GetDateTime(5).ToString("O"),
                reader.GetDateTime(6).ToString("O"),
                reader.GetDateTime(7).ToString("O")));
        }
        return new WorkerPoolList(items, runtime, status);
    });

    /// <summary>The runtime id, or null when the name belongs to another pool's worker.</summary>
    private async Task<long?> UpsertAsync(WorkerRegistration registration)
    {
        var runtime = JsonInput.ParseObject(registration.MetaJson) ?? [];
        runtime["type"] = registration.Runtime;
        runtime["pid"] = registration.Pid;
        runtime["hostname"] = registration.Hostname;
        runtime[PrincipalPoolKey] = CallerPool; // set by the server, whatever the request's meta says
        await using var command = database.CreateCommand(
            $"""
            INSERT INTO noetl.runtime AS existing (runtime_id, name, kind, uri, status, labels, capacity, runtime, heartbeat, created_at, updated_at)
            VALUES ($1, $2, 'worker_pool', $3, $4, $5::jsonb, $6, $7::jsonb, now(), now(), now())
            ON CONFLICT (kind, name) DO UPDATE SET
                uri = EXCLUDED.uri, status = EXCLUDED.status, labels = EXCLUDED.labels, capacity = EXCLUDED.capacity,
                runtime = EXCLUDED.runtime, heartbeat = now(), updated_at = now()
             WHERE {OwnPool("existing.runtime", "$8")}
            RETURNING runtime_id
            """);
        command.Parameters.AddWithValue(ids.Next());
        command.Parameters.AddWithValue(registration.Name);
        command.Parameters.Add(new NpgsqlParameter { Value = registration.Uri ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.AddWithValue(registration.Status.ToLowerInvariant());
        command.Parameters.Add(new NpgsqlParameter { Value = registration.LabelsJson ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = registration.Capacity ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        command.Parameters.AddWithValue(runtime.ToJsonString());
        AddCallerPool(command.Parameters);
        return await command.ExecuteScalarAsync() as long?;
    }

    private const string PrincipalPoolKey = "principal_pool";

    // The caller's pool parameter is null for callers that are not pool-bound (development mode). Entries written
    // before pools were recorded belong to whoever registers them next.
    private static string OwnPool(string runtimeColumn, string poolParameter) =>
        $"({poolParameter}::text IS NULL OR {runtimeColumn}->>'{PrincipalPoolKey}' IS NULL OR {runtimeColumn}->>'{PrincipalPoolKey}' = {poolParameter})";

    private static string? CallerPool => Caller.Current is { Role: Caller.WorkerRole, Pool: var pool } ? pool : null;

    private static void AddCallerPool(NpgsqlParameterCollection parameters) =>
        parameters.Add(new NpgsqlParameter { Value = CallerPool ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });

    private static Failure ForeignPool(string name) =>
        Failure.Forbidden("wrong_pool", $"worker '{name}' is registered by another pool; a pool manages its own workers only");
}
