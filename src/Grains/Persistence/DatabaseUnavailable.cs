using System.Net.Sockets;
using Npgsql;
using NoEtl.Grains.Executions;

namespace NoEtl.Grains.Persistence;

/// <summary>
/// Classifies failures that mean "try again later" (NoETL's overload contract: 503 with <c>Retry-After</c> and
/// <c>detail.code</c> <c>db_unavailable</c> or <c>pool_saturated</c>), plus two of ours: <c>overloaded</c> (the silo's
/// commit queue is full) and <c>stale_writer</c> (an execution's activation was superseded; the retry reaches the new one).
/// </summary>
public static class DatabaseUnavailable
{
    public const int RetryAfterSeconds = 1;

    public static string? CodeOf(Exception exception) => exception switch
    {
        // Npgsql reports an exhausted pool as a timeout while acquiring a connection.
        NpgsqlException { InnerException: TimeoutException } => "pool_saturated",
        NpgsqlException { IsTransient: true } => "db_unavailable",
        NpgsqlException { InnerException: SocketException } => "db_unavailable",
        PostgresException { SqlState: "57P01" or "57P02" or "57P03" or "53300" or "08006" or "08001" or "08003" } => "db_unavailable",
        TimeoutException => "db_unavailable",
        CommitQueueFullException => "overloaded",
        StaleWriterException => "stale_writer",
        _ => null,
    };

    public static string Message(string code) => code switch
    {
        "pool_saturated" => "The database connection pool is saturated; retry later.",
        "overloaded" => "The server has more writes queued than it accepts; retry later.",
        "stale_writer" => "The execution moved to another activation; retry.",
        _ => "The database is unavailable; retry later.",
    };

    public static Failure Failure(string code) => NoEtl.Grains.Failure.Unavailable(code, Message(code), RetryAfterSeconds);
}
