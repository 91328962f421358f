using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;
using NoEtl.Grains.Executions.Aggregate;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Executions;

/// <summary>
/// NoETL's result store (noetl-api.md §1.1 (12/13)): results too large to inline in call.done are kept in
/// noetl.result_store and the event carries their ref. The execution owns them: its grain checks the pool, this class
/// scrubs them with the execution's secrets before they are stored, and redacts them again when read.
/// </summary>
public sealed class ResultStore(NpgsqlDataSource database, ServerOptions options, long executionId)
{
    /// <summary>The tier the server reports: every stored result lives in PostgreSQL.</summary>
    public const string Tier = "postgres";

    private const string ResultColumns =
        "ref, name, scope, source_step, data::text, correlation::text, extracted::text, bytes, sha256, created_at, expires_at";

    /// <summary>Refuses a result past <c>NOETL_RESULT_STORE_MAX_BYTES</c> before anything is read for it.</summary>
    public Failure? TooLarge(ResultInput input)
    {
        var received = Encoding.UTF8.GetByteCount(input.DataJson);
        return received > options.ResultStoreMaxBytes
            ? Failure.TooLarge($"The result is {received} bytes; the result store keeps at most {options.ResultStoreMaxBytes} (NOETL_RESULT_STORE_MAX_BYTES)")
            : null;
    }

    public async Task<StoredResult> StoreAsync(ResultInput input, IReadOnlyCollection<string> secrets)
    {
        var json = ExecutionAggregate.ScrubPart(input.DataJson, secrets) ?? "null";
        var data = Encoding.UTF8.GetBytes(json);
        var reference = $"noetl://execution/{executionId}/result/{input.Name}/{Guid.NewGuid().ToString("N")[..12]}";
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
        command.Parameters.AddWithValue(executionId);
        command.Parameters.AddWithValue(input.Name);
        command.Parameters.AddWithValue(input.Scope);
        command.Parameters.Add(new NpgsqlParameter { Value = input.SourceStep ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = json, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = ExecutionAggregate.ScrubPart(input.CorrelationJson, secrets) ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = ExecutionAggregate.ScrubPart(input.ExtractedJson, secrets) ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.AddWithValue(data.Length);
        command.Parameters.AddWithValue(sha256);
        command.Parameters.Add(new NpgsqlParameter { Value = expiresAt?.UtcDateTime ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        await command.ExecuteNonQueryAsync();
        return new StoredResult(reference, Tier, input.Scope, expiresAt?.ToString("O"), data.Length, sha256);
    }

    public async Task<Outcome<ResultView>> ReadAsync(string? name, string? reference)
    {
        // Expired rows are never served, even before the cleanup purge deletes them.
        await using var command = database.CreateCommand(
            $"""
            SELECT {ResultColumns} FROM noetl.result_store
             WHERE execution_id = $1 AND (ref = $2 OR $2 IS NULL AND name = $3)
               AND (expires_at IS NULL OR expires_at > now())
             ORDER BY created_at DESC
             LIMIT 1
            """);
        command.Parameters.AddWithValue(executionId);
        command.Parameters.Add(new NpgsqlParameter { Value = reference ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = name ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
            return Failure.NotFound("Result not found");
        return new ResultView(reader.GetString(0), executionId, reader.GetString(1), reader.GetString(2), Tier,
            reader.IsDBNull(3) ? null : reader.GetString(3), Redacted(reader.GetString(4)),
            reader.IsDBNull(5) ? null : Redacted(reader.GetString(5)), reader.IsDBNull(6) ? null : Redacted(reader.GetString(6)),
            reader.GetInt32(7), reader.GetString(8), reader.GetFieldValue<DateTimeOffset>(9).ToString("O"),
            reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10).ToString("O"));
    }

    /// <summary>A stored JSON column as answered: redacted (values are scrubbed when stored; keys by name when read).</summary>
    private static JsonText Redacted(string json) => new(Redactor.Redact(JsonNode.Parse(json))?.ToJsonString() ?? "null");
}
