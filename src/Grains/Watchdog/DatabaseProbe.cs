using Npgsql;

namespace NoEtl.Grains.Watchdog;

/// <summary>
/// One <c>SELECT 1</c> within a deadline, on the connection pool of the Orleans providers (membership, reminders):
/// it adds no connection to the silo's bound, and unlike the grains' pool it is not saturated by a busy silo, so a
/// failure means the database cannot be reached rather than that the silo is loaded.
/// </summary>
public sealed class DatabaseProbe(string connectionString, TimeSpan timeout)
{
    public TimeSpan Timeout => timeout;

    /// <summary>
    /// False when the database did not answer within the deadline. A connection whose packets are dropped does not
    /// always honour cancellation promptly (Npgsql first tries to send a cancel request over a new connection), so the
    /// deadline is enforced here too; the abandoned attempt ends on its own.
    /// </summary>
    public async Task<bool> ReachesAsync(CancellationToken cancellation)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(timeout);
        try
        {
            return await SelectOneAsync(deadline.Token).WaitAsync(deadline.Token);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException && !cancellation.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task<bool> SelectOneAsync(CancellationToken cancellation)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellation);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        return await command.ExecuteScalarAsync(cancellation) is 1;
    }
}
