using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NoEtl.Grains.Hosting;

namespace NoEtl.Grains.Executions;

/// <summary>
/// Wakes executions whose commands are overdue for the reaper, wherever their silo went. An execution's reaper is a
/// grain timer and dies with its silo; the <see cref="InFlightReminder"/> only exists once commands have been in
/// flight for NOETL_REMINDER_AFTER_SECONDS. An execution whose silo died inside that window, with the worker holding
/// its command gone too, was called by nobody again. Every silo runs this watch: each pass reads the commands whose
/// claim lease ran out (or that stayed PENDING past the pending retry) from <c>noetl.command</c> and calls their
/// executions. An active execution answers at once (its own timer sweeps); any other activates on a live silo,
/// rebuilds from the log and starts its reaper, which notifies the commands again.
/// </summary>
public sealed partial class OrphanedCommandWatch(
    NpgsqlDataSource database, IGrainFactory grains, ServerOptions options, ILogger<OrphanedCommandWatch> logger) : BackgroundService
{
    /// <summary>Executions woken per pass at most; the next pass takes the rest.</summary>
    public const int MaxExecutionsPerPass = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.CommandReaperIntervalSeconds));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await Task.WhenAll((await OverdueExecutionsAsync(stoppingToken)).Select(WakeAsync));
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                LogPassFailed(e.Message); // the next pass reads again
            }
        }
    }

    private async Task<List<long>> OverdueExecutionsAsync(CancellationToken cancellationToken)
    {
        // idx_command_exec_open holds only open commands, so a pass reads the work in flight, not the history.
        await using var command = database.CreateCommand(
            """
            SELECT DISTINCT execution_id FROM noetl.command
             WHERE (status IN ('CLAIMED', 'RUNNING') AND COALESCE(claimed_at, started_at, updated_at) < now() - make_interval(secs => $1))
                OR (status = 'PENDING' AND updated_at < now() - make_interval(secs => $2))
             LIMIT $3
            """);
        command.Parameters.AddWithValue((double)options.ClaimLeaseSeconds);
        command.Parameters.AddWithValue((double)options.CommandPendingRetrySeconds);
        command.Parameters.AddWithValue(MaxExecutionsPerPass);
        var executions = new List<long>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            executions.Add(reader.GetInt64(0));
        return executions;
    }

    private async Task WakeAsync(long executionId)
    {
        try
        {
            await grains.GetGrain<IExecutionGrain>(executionId).Wake();
        }
        catch (Exception e)
        {
            // Typically its silo was not voted out yet; the next pass calls again.
            LogWakeFailed(executionId, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Orphaned-command watch: reading overdue commands failed, retrying at the next pass: {Error}")]
    private partial void LogPassFailed(string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Orphaned-command watch: execution {ExecutionId} not reached: {Error}")]
    private partial void LogWakeFailed(long executionId, string error);
}
