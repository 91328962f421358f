using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NoEtl.Grains.Watchdog;

/// <summary>
/// Stops a silo that is cut off from PostgreSQL while its peers are not. Such a silo still answers membership probes,
/// so nobody votes it out, yet every turn of the executions it hosts fails (503 <c>db_unavailable</c>) for as long as
/// the partition lasts. Probing every <see cref="DatabaseWatchdogOptions.ProbeInterval"/>, once its own probes have
/// failed for <see cref="DatabaseWatchdogOptions.StopAfter"/> it asks every other active silo to probe; if one of them
/// reaches the database it stops gracefully, and its executions activate on the others. When no peer reaches it either
/// (a database outage) it stays: stopping every silo would turn a pause into an outage of the whole cluster.
/// </summary>
public sealed partial class DatabaseWatchdog(
    DatabaseWatchdogOptions options, DatabaseProbe probe, IClusterMembershipService membership, ILocalSiloDetails localSilo,
    IGrainFactory grains, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<DatabaseWatchdog> logger) : BackgroundService
{
    /// <summary>How long a graceful stop may take before the process exits (see <see cref="ExitAfterGraceAsync"/>).</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(3);

    /// <summary>EX_TEMPFAIL: the silo may run again once its link to the database is back.</summary>
    private const int ExitCode = 75;

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        DateTimeOffset? unreachableSince = null;
        var peersAlsoCutOff = false;
        using var timer = new PeriodicTimer(options.ProbeInterval, time);
        while (await timer.WaitForNextTickAsync(stopping))
        {
            if (await probe.ReachesAsync(stopping))
            {
                if (unreachableSince is { } since)
                    LogReachable(time.GetUtcNow() - since);
                unreachableSince = null;
                peersAlsoCutOff = false;
                continue;
            }
            if (unreachableSince is null)
                LogUnreachable();
            unreachableSince ??= time.GetUtcNow();
            var elapsed = time.GetUtcNow() - unreachableSince.Value;
            if (elapsed < options.StopAfter)
                continue;

            if (await PeerReachingTheDatabaseAsync() is { } peer)
            {
                LogStopping(elapsed, peer);
                lifetime.StopApplication();
                _ = ExitAfterGraceAsync();
                return;
            }
            if (!peersAlsoCutOff)
                LogOutage(elapsed);
            peersAlsoCutOff = true;
        }
    }

    /// <summary>
    /// A graceful stop writes the silo's status to the membership table, which this silo cannot reach, and was seen to
    /// hang there. Once the process is gone the others vote it out at once (its connections are refused), so it exits
    /// after a short grace with <see cref="ExitCode"/>; a supervisor restarts it, and it waits for PostgreSQL before
    /// it joins again.
    /// </summary>
    private async Task ExitAfterGraceAsync()
    {
        await Task.Delay(StopGrace, time);
        LogExiting(StopGrace);
        Environment.Exit(ExitCode);
    }

    /// <summary>The first other active silo whose own probe succeeds; a peer that does not answer in time counts as cut off.</summary>
    private async Task<SiloAddress?> PeerReachingTheDatabaseAsync()
    {
        var peers = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(localSilo.SiloAddress))
            .Select(m => m.SiloAddress)
            .ToList();
        var answers = await Task.WhenAll(peers.Select(async peer =>
        {
            try
            {
                // The peer's probe has the same deadline; allow one more for the call itself.
                var reaches = await grains.GetGrain<ISiloDatabaseProbeGrain>(peer.ToParsableString()).ReachesDatabase()
                    .WaitAsync(probe.Timeout * 2, time);
                return reaches ? peer : null;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogPeerFailed(peer, e.Message);
                return null;
            }
        }));
        return answers.FirstOrDefault(a => a is not null);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL unreachable from this silo; it stops if that lasts and another silo reaches it")]
    private partial void LogUnreachable();

    [LoggerMessage(Level = LogLevel.Information, Message = "PostgreSQL reachable again after {Elapsed}")]
    private partial void LogReachable(TimeSpan elapsed);

    [LoggerMessage(Level = LogLevel.Critical, Message = "PostgreSQL unreachable from this silo for {Elapsed} while silo {Peer} reaches it: stopping so that the others take over its executions")]
    private partial void LogStopping(TimeSpan elapsed, SiloAddress peer);

    [LoggerMessage(Level = LogLevel.Critical, Message = "graceful stop still under way after {Grace}: exiting")]
    private partial void LogExiting(TimeSpan grace);

    [LoggerMessage(Level = LogLevel.Error, Message = "PostgreSQL unreachable for {Elapsed} and no other silo reaches it either: a database outage, this silo stays up")]
    private partial void LogOutage(TimeSpan elapsed);

    [LoggerMessage(Level = LogLevel.Information, Message = "silo {Peer} did not answer whether it reaches PostgreSQL: {Reason}")]
    private partial void LogPeerFailed(SiloAddress peer, string reason);
}

/// <summary>
/// <see cref="StopAfter"/>: how long this silo's probes must fail before it asks its peers and stops (zero: never).
/// <see cref="ProbeInterval"/>: the period of its probes, also each probe's deadline.
/// </summary>
public sealed record DatabaseWatchdogOptions(TimeSpan StopAfter, TimeSpan ProbeInterval);
