using System.Net;
using Npgsql;
using NoEtl.Integration.Tests.Faults;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests.Partition;

/// <summary>
/// Scenario 7, the reminder window: <see cref="Lead"/> (5 s) before the fault, workers take the first command of a few
/// executions of their own and then die (they never report again); the fault kills a silo that hosts one of them, long
/// before any reminder would be registered. Settling waits until every such command was notified again
/// (<c>command.renotified</c>: what a real worker acts on) and only then lets a simulated worker take the executions
/// over and finish them; the ledger checks them with the load's.
/// </summary>
public sealed class ReminderWindow(PartitionCluster cluster, string path, Action<string> log) : IScenarioWork
{
    private const int Executions = 6;

    private readonly List<(long ExecutionId, long CommandId, string Silo)> _taken = [];
    private DateTime _killedAt;

    public TimeSpan Lead => TimeSpan.FromSeconds(5);

    public async Task PrepareAsync()
    {
        var gateway = cluster.Gateways[0];
        for (var i = 0; i < Executions; i++)
        {
            var executionId = await gateway.Execute(path, new { doomed = i });
            var issued = await WaitForIssuedAsync(executionId);
            var claim = await gateway.Claim(issued.EventId, $"doomed-worker-{i}");
            Assert.Equal(HttpStatusCode.OK, claim.Status);
            _taken.Add((executionId, issued.CommandId, issued.Silo));
        }
    }

    /// <summary>The fault: kills the silo hosting the most of those executions (hash placement decides which).</summary>
    public Task KillAsync()
    {
        var silos = cluster.System.Silos;
        var victim = Enumerable.Range(1, silos.Count).MaxBy(n => _taken.Count(t => HostedOn(t.Silo, n)));
        var hosted = _taken.Count(t => HostedOn(t.Silo, victim));
        Assert.True(hosted > 0, $"no silo named in {string.Join(", ", _taken.Select(t => t.Silo))}");
        silos[victim - 1].Kill();
        _killedAt = DateTime.UtcNow;
        log($"killed silo {victim}, host of {hosted} of the {Executions} executions whose worker died");
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<long>> SettleAsync()
    {
        var system = cluster.System;
        foreach (var (executionId, commandId, _) in _taken)
        {
            await Eventually.WaitForAsync(async () => await system.AdminCountAsync(
                    "SELECT count(*) FROM noetl.event WHERE execution_id = $1 AND event_type = 'command.renotified' AND command_id = $2",
                    executionId, commandId) > 0,
                $"command {commandId} of execution {executionId} notified again", TimeSpan.FromSeconds(120));
        }
        log($"every abandoned command notified again {(DateTime.UtcNow - _killedAt).TotalSeconds:0.0} s after the kill at the latest");
        var executions = _taken.Select(t => t.ExecutionId).ToList();
        await new LoadDriver(cluster.Gateways, TimeSpan.Zero).RunAsync(executions, workers: executions.Count, DateTime.UtcNow.AddSeconds(120));
        return executions;
    }

    /// <summary>The execution's first command as the log holds it, with the silo that issued it (its host).</summary>
    private async Task<(long EventId, long CommandId, string Silo)> WaitForIssuedAsync(long executionId)
    {
        (long, long, string)? issued = null;
        await Eventually.WaitForAsync(async () =>
        {
            await using var connection = new NpgsqlConnection(cluster.System.Database.AdminConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                """
                SELECT event_id, command_id, meta->>'issued_by_silo' FROM noetl.event
                 WHERE execution_id = $1 AND event_type = 'command.issued' ORDER BY event_id LIMIT 1
                """, connection);
            command.Parameters.AddWithValue(executionId);
            await using var reader = await command.ExecuteReaderAsync();
            if (await reader.ReadAsync())
                issued = (reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2));
            return issued is not null;
        }, $"execution {executionId}'s first command", TimeSpan.FromSeconds(30));
        return issued!.Value;
    }

    private static bool HostedOn(string issuedBySilo, int silo) => issuedBySilo.Contains(NetnsRig.SiloAddress(silo) + ":", StringComparison.Ordinal);
}
