using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using NoEtl.Grains.Commands;
using NoEtl.Grains.Persistence;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Executions;

// NoETL's result store (noetl-api.md §1.1 (12/13)): results too large to inline in call.done are kept in
// noetl.result_store and the event carries their ref. The execution owns them: only its pool's workers store or read
// them, they are scrubbed with the execution's secrets before they are stored, and redacted again when read.
public sealed partial class ExecutionGrain
{
    /// <summary>The tier the server reports: every stored result lives in PostgreSQL.</summary>
    public const string ResultStoreTier = "postgres";

    private const string ResultColumns =
        "ref, name, scope, source_step, data::text, correlation::text, extracted::text, bytes, sha256, created_at, expires_at";

    public async Task<Reply> StoreResult(ResultInput input)
    {
        if (!Exists)
            return JsonReplies.NotFound("Execution not found");
        if (EventBinding.CheckPool(Caller.Current, Pool, ExecutionId, "store results for it") is { } foreignPool)
            return foreignPool;
        var received = Encoding.UTF8.GetByteCount(input.DataJson);
        if (received > options.ResultStoreMaxBytes)
            return new Reply(ReplyStatus.TooLarge, JsonReplies.Detail(
                $"The result is {received} bytes; the result store keeps at most {options.ResultStoreMaxBytes} (NOETL_RESULT_STORE_MAX_BYTES)"));

        var secrets = await SecretValuesAsync();
        var json = ScrubPart(input.DataJson, secrets) ?? "null";
        var data = Encoding.UTF8.GetBytes(json);
        var reference = $"noetl://execution/{ExecutionId}/result/{input.Name}/{Guid.NewGuid().ToString("N")[..12]}";
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(data));
        DateTimeOffset? expiresAt = input.Forever || input.Scope == "permanent" && input.TtlSeconds is null
            ? null
            : DateTimeOffset.UtcNow.AddSeconds(input.TtlSeconds ?? options.ResultStoreTtlSeconds);

        await using var command = database.CreateCommand(
            """
            INSERT INTO noetl.result_store (ref, execution_id, name, scope, source_step, data, correlation, extracted, bytes, sha256, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10, $11)
            """);
        command.Parameters.AddWithValue(reference);
        command.Parameters.AddWithValue(ExecutionId);
        command.Parameters.AddWithValue(input.Name);
        command.Parameters.AddWithValue(input.Scope);
        command.Parameters.Add(new NpgsqlParameter { Value = input.SourceStep ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = json, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = ScrubPart(input.CorrelationJson, secrets) ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = ScrubPart(input.ExtractedJson, secrets) ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.AddWithValue(data.Length);
        command.Parameters.AddWithValue(sha256);
        command.Parameters.Add(new NpgsqlParameter { Value = expiresAt?.UtcDateTime ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        await command.ExecuteNonQueryAsync();
        return JsonReplies.Ok(new JsonObject
        {
            ["ref"] = reference,
            ["store"] = ResultStoreTier,
            ["scope"] = input.Scope,
            ["expires_at"] = expiresAt?.ToString("O"),
            ["bytes"] = data.Length,
            ["sha256"] = sha256,
        });
    }

    public async Task<Reply> ReadResult(string? name, string? reference)
    {
        if (!Exists)
            return JsonReplies.NotFound("Execution not found");
        if (EventBinding.CheckPool(Caller.Current, Pool, ExecutionId, "read its results") is { } foreignPool)
            return foreignPool;
        // Expired rows are never served, even before the cleanup purge deletes them.
        await using var command = database.CreateCommand(
            $"""
            SELECT {ResultColumns} FROM noetl.result_store
             WHERE execution_id = $1 AND (ref = $2 OR $2 IS NULL AND name = $3)
               AND (expires_at IS NULL OR expires_at > now())
             ORDER BY created_at DESC
             LIMIT 1
            """);
        command.Parameters.AddWithValue(ExecutionId);
        command.Parameters.Add(new NpgsqlParameter { Value = reference ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = name ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
            return JsonReplies.NotFound("Result not found");
        return JsonReplies.Ok(new JsonObject
        {
            ["ref"] = reader.GetString(0),
            ["execution_id"] = ExecutionId.ToString(),
            ["name"] = reader.GetString(1),
            ["scope"] = reader.GetString(2),
            ["store"] = ResultStoreTier,
            ["source_step"] = reader.IsDBNull(3) ? null : reader.GetString(3),
            ["data"] = Redactor.Redact(JsonNode.Parse(reader.GetString(4))),
            ["correlation"] = reader.IsDBNull(5) ? null : Redactor.Redact(JsonNode.Parse(reader.GetString(5))),
            ["extracted"] = reader.IsDBNull(6) ? null : Redactor.Redact(JsonNode.Parse(reader.GetString(6))),
            ["bytes"] = reader.GetInt32(7),
            ["sha256"] = reader.GetString(8),
            ["created_at"] = reader.GetFieldValue<DateTimeOffset>(9).ToString("O"),
            ["expires_at"] = reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10).ToString("O"),
        });
    }

    /// <summary>The ref of a posted event's <c>result_ref</c> result; payloads without the marker are not parsed here.</summary>
    private static string? ReferenceIn(WorkerEvent workerEvent) =>
        workerEvent.PayloadJson.Contains("result_ref", StringComparison.Ordinal)
            ? WorkerEvents.ResultRef(JsonReplies.ParseOrNull(workerEvent.PayloadJson) as JsonObject)
            : null;

    /// <summary>
    /// The stored data behind <paramref name="references"/>, for the engine to resolve <c>result_ref</c> results (NoETL
    /// <c>events.py</c>): only this execution's unexpired rows. A ref that is gone is absent, and its step result keeps only
    /// the reference.
    /// </summary>
    private async Task<IReadOnlyDictionary<string, JsonNode?>> ReferencedDataAsync(IEnumerable<string?> references)
    {
        var wanted = references.OfType<string>().Distinct(StringComparer.Ordinal).ToArray();
        var found = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        if (wanted.Length == 0)
            return found;
        await using var command = database.CreateCommand(
            """
            SELECT ref, data::text FROM noetl.result_store
             WHERE execution_id = $1 AND ref = ANY($2) AND (expires_at IS NULL OR expires_at > now())
            """);
        command.Parameters.AddWithValue(ExecutionId);
        command.Parameters.AddWithValue(wanted);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            found[reader.GetString(0)] = JsonNode.Parse(reader.GetString(1));
        return found;
    }

    /// <summary>Any JSON value scrubbed like a worker payload (the scrub works on objects, so the value is wrapped).</summary>
    private static string? ScrubPart(string? json, IReadOnlyCollection<string> secrets) =>
        json is null ? null : Scrub(new JsonObject { ["value"] = JsonNode.Parse(json) }, secrets)["value"]?.ToJsonString() ?? "null";
}
