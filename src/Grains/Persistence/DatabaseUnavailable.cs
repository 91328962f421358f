using System.Net.Sockets;
using Npgsql;

namespace NoEtl.Grains.Persistence;

/// <summary>
/// Classifies database failures that mean "try again later" (NoETL's overload contract:
/// 503 with <c>Retry-After</c> and <c>detail.code</c> <c>db_unavailable</c> or <c>pool_saturated</c>).
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
        _ => null,
    };

    public static Reply Reply(string code) => new(
        ReplyStatus.Unavailable,
        JsonReplies.Detail(code, code == "pool_saturated"
            ? "The database connection pool is saturated; retry later."
            : "The database is unavailable; retry later."),
        RetryAfterSeconds);
}
