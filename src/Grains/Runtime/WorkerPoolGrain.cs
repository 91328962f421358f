using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using NoEtl.Grains.Persistence;
using Orleans.Concurrency;

namespace NoEtl.Grains.Runtime;

/// <summary>The worker registry over <c>noetl.runtime</c> (kind <c>worker_pool</c>); liveness feeds the claim policy.</summary>
[StatelessWorker]
public sealed class WorkerPoolGrain(NpgsqlDataSource database, SnowflakeIds ids) : Grain, IWorkerPoolGrain
{
    public Task<Reply> Register(WorkerRegistration registration) => DatabaseCall.Run(async () =>
    {
        var runtimeId = await UpsertAsync(registration);
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
            """
            UPDATE noetl.runtime SET heartbeat = now(), status = 'ready', updated_at = now()
             WHERE kind = 'worker_pool' AND name = $1
            RETURNING runtime_id
            """);
        command.Parameters.AddWithValue(name);
        var existing = await command.ExecuteScalarAsync();
        var status = "ok";
        long runtimeId;
        if (existing is long id)
        {
            runtimeId = id;
        }
        else
        {
            runtimeId = await UpsertAsync(registration ?? new WorkerRegistration(name, null, null, "ready", null, null, null, null, null));
            status = "recreated";
        }
        return JsonReplies.Ok(new JsonObject { ["status"] = status, ["name"] = name, ["runtime_id"] = runtimeId.ToString() });
    });

    public Task<Reply> Deregister(string name) => DatabaseCall.Run(async () =>
    {
        await using var command = database.CreateCommand(
            "UPDATE noetl.runtime SET status = 'offline', updated_at = now() WHERE kind = 'worker_pool' AND name = $1");
        command.Parameters.AddWithValue(name);
        var updated = await command.ExecuteNonQueryAsync();
        return updated == 0
            ? JsonReplies.NotFound($"worker not found: {name}")
            : JsonReplies.Ok(new JsonObject { ["status"] = "ok", ["name"] = name, ["kind"] = "worker_pool" });
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

    private async Task<long> UpsertAsync(WorkerRegistration registration)
    {
        var runtime = JsonReplies.ParseObject(registration.MetaJson) ?? [];
        runtime["type"] = registration.Runtime;
        runtime["pid"] = registration.Pid;
        runtime["hostname"] = registration.Hostname;
        await using var command = database.CreateCommand(
            """
            INSERT INTO noetl.runtime (runtime_id, name, kind, uri, status, labels, capacity, runtime, heartbeat, created_at, updated_at)
            VALUES ($1, $2, 'worker_pool', $3, $4, $5::jsonb, $6, $7::jsonb, now(), now(), now())
            ON CONFLICT (kind, name) DO UPDATE SET
                uri = EXCLUDED.uri, status = EXCLUDED.status, labels = EXCLUDED.labels, capacity = EXCLUDED.capacity,
                runtime = EXCLUDED.runtime, heartbeat = now(), updated_at = now()
            RETURNING runtime_id
            """);
        command.Parameters.AddWithValue(ids.Next());
        command.Parameters.AddWithValue(registration.Name);
        command.Parameters.Add(new NpgsqlParameter { Value = registration.Uri ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.AddWithValue(registration.Status.ToLowerInvariant());
        command.Parameters.Add(new NpgsqlParameter { Value = registration.LabelsJson ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = registration.Capacity ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        command.Parameters.AddWithValue(runtime.ToJsonString());
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
