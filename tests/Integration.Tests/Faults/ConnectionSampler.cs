using Npgsql;

namespace NoEtl.Integration.Tests.Faults;

/// <summary>
/// Samples <c>pg_stat_activity</c> of the system's database every 100 ms: the most connections the silos held at
/// once, and every (role, application) seen — workers must never appear, gateways only as the discovery role.
/// </summary>
public sealed class ConnectionSampler : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new(); // not disposed: cancelled once, then only read
    private readonly Task _loop;
    private readonly HashSet<string> _seen = [];

    public ConnectionSampler(string adminConnectionString) => _loop = Task.Run(() => LoopAsync(adminConnectionString));

    public int MaxSiloConnections { get; private set; }

    public IReadOnlyCollection<string> Seen
    {
        get { lock (_seen) return [.. _seen]; }
    }

    private async Task LoopAsync(string adminConnectionString)
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                // Its own short-lived connection: the sampler must survive the database restarts it measures.
                await using var connection = new NpgsqlConnection(adminConnectionString);
                await connection.OpenAsync(_stop.Token);
                while (!_stop.IsCancellationRequested)
                {
                    // A backend still authenticating has no role yet: it is counted once it has one.
                    await using var command = new NpgsqlCommand(
                        "SELECT usename, application_name FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND usename IS NOT NULL",
                        connection);
                    var silo = 0;
                    await using (var reader = await command.ExecuteReaderAsync(_stop.Token))
                    {
                        while (await reader.ReadAsync(_stop.Token))
                        {
                            var role = reader.IsDBNull(0) ? "" : reader.GetString(0);
                            var application = reader.IsDBNull(1) ? "" : reader.GetString(1);
                            if (application.StartsWith("noetl-silo", StringComparison.Ordinal))
                                silo++;
                            lock (_seen) _seen.Add($"{role}/{application}");
                        }
                    }
                    MaxSiloConnections = Math.Max(MaxSiloConnections, silo);
                    await Task.Delay(100, _stop.Token);
                }
            }
            catch (OperationCanceledException) { return; }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                try { await Task.Delay(200, _stop.Token); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    /// <summary>Stops sampling; idempotent, so a scenario can stop it before its figures are read.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
            return;
        await _stop.CancelAsync();
        await _loop;
    }
}
