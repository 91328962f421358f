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
    public Task<Reply> Register(WorkerRegistration registration) => DatabaseCall.Run(async () =>
    {
        if (await UpsertAsync(registration) is not { } runtimeId)
            return ForeignPool(registration.Name);
        return JsonReplies.Ok(new JsonObject
        {
            ["status"] = "ok",
            ["name"] = registration.Name,
            ["runtime_id"] = runtimeId.ToString(),
            ["kind"] = "worker_pool",
            ["runtime"] = registration.Runtime,
        });
    });

    /// <summary>
    /// NoETL answers 404 for an unknown worker, but the Rust worker never re-registers after that,
    /// so an unknown worker is registered from the heartbeat instead.
    /// </summary>
    public Task<Reply> Heartbeat(string name, WorkerRegistration? registration) => DatabaseCall.Run(async () =>
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
        return JsonReplies.Ok(new JsonObject { ["status"] = status, ["name"] = name, ["runtime_id"] = runtimeId.ToString() });
    });

    public Task<Reply> Deregister(string name) => DatabaseCall.Run(async () =>
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
            true => JsonReplies.Ok(new JsonObject { ["status"] = "ok", ["name"] = name, ["kind"] = "worker_pool" }),
            false => ForeignPool(name),
            _ => JsonReplies.NotFound($"worker not found: {name}"),
        };
    });

    public Task<Reply> List(string? runtime, string? status) => DatabaseCall.Run(async () =>
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
        var items = new JsonArray();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            items.Add(new JsonObject
            {
                ["name"] = reader.GetString(0),
                ["runtime"] = reader.IsDBNull(1) ? null : JsonNode.Parse(reader.GetString(1)),
                ["status"] = reader.GetString(2),
                ["capacity"] = reader.IsDBNull(3) ? null : reader.GetInt32(3),
                ["labels"] = reader.IsDBNull(4) ? null : JsonNode.Parse(reader.GetString(4)),
                ["heartbeat"] = reader.GetDateTime(5).ToString("O"),
                ["created_at"] = reader.GetDateTime(6).ToString("O"),
                ["updated_at"] = reader.GetDateTime(7).ToString("O"),
            });
        }
        return JsonReplies.Ok(new JsonObject
        {
            ["items"] = items,
            ["count"] = items.Count,
            ["runtime"] = runtime,
            ["status"] = status,
            ["error"] = null,
        });
    });

    /// <summary>The runtime id, or null when the name belongs to another pool's worker.</summary>
    private async Task<long?> UpsertAsync(WorkerRegistration registration)
    {
        var runtime = JsonReplies.ParseObject(registration.MetaJson) ?? [];
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

    private static Reply ForeignPool(string name) => new(ReplyStatus.Forbidden, JsonReplies.Detail("wrong_pool",
        $"worker '{name}' is registered by another pool; a pool manages its own workers only"));
}
