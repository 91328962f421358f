using Npgsql;

namespace NoEtl.Grains.Executions;

/// <summary>
/// <c>POST /api/execute</c> under an <c>Idempotency-Key</c>. The start turn writes the key to
/// <c>noetl.execution_request</c> together with the execution's first rows, so a key names an execution that exists;
/// a repeated request is answered from that row (the same <see cref="ExecutionStarted"/>), and a concurrent duplicate
/// loses on the key's primary key.
/// </summary>
public static class IdempotentStarts
{
    /// <summary>The primary key a concurrent duplicate start violates.</summary>
    public const string KeyConstraint = "execution_request_pkey";

    /// <summary>The answer of the start that committed under <paramref name="key"/>, or null when none did.</summary>
    public static async Task<ExecutionStarted?> FindAsync(NpgsqlDataSource database, string key)
    {
        await using var command = database.CreateCommand(
            "SELECT execution_id, commands_generated FROM noetl.execution_request WHERE idempotency_key = $1");
        command.Parameters.AddWithValue(key);
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? new ExecutionStarted(reader.GetInt64(0), reader.GetInt32(1)) : null;
    }

    public static bool IsDuplicate(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: KeyConstraint };
}
