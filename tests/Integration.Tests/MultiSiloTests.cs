using System.Text.Json.Nodes;
using Npgsql;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>Two silo processes behind one gateway: executions spread, and every call reaches the owning grain.</summary>
public sealed class MultiSiloTests : IAsyncLifetime
{
    private NoEtlSystem _system = null!;

    public async Task InitializeAsync() => _system = await NoEtlSystem.StartAsync(silos: 2, poolSize: 8);

    public async Task DisposeAsync() => await _system.DisposeAsync();

    [Fact]
    public async Task Fifty_executions_spread_over_both_silos_and_complete_without_lost_or_duplicated_rows()
    {
        var http = _system.Http;
        var path = $"tests/spread_{Guid.NewGuid():N}";
        await http.Register(Playbooks.ThreeSteps(path));
        var executions = new List<long>();
        for (var i = 0; i < 50; i++)
            executions.Add(await http.Execute(path, new { count = i }));

        using var throttle = new SemaphoreSlim(8);
        await Task.WhenAll(executions.Select(async id =>
        {
            await throttle.WaitAsync();
            try
            {
                var status = await new SimulatedWorker(http, $"w-{id}").RunToCompletionAsync(id,
                    claim => new JsonObject { ["message"] = "m", ["value"] = 1 }, TimeSpan.FromSeconds(60));
                Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
            }
            finally
            {
                throttle.Release();
            }
        }));

        await using var connection = new NpgsqlConnection(_system.Database.AdminConnectionString);
        await connection.OpenAsync();

        // Hash placement on execution id: both silos own a fair share.
        await using (var silos = new NpgsqlCommand(
            """
            SELECT meta->>'issued_by_silo', count(DISTINCT execution_id) FROM noetl.event
             WHERE event_type = 'command.issued' AND execution_id = ANY($1) GROUP BY 1
            """, connection))
        {
            silos.Parameters.AddWithValue(executions.ToArray());
            var spread = new Dictionary<string, long>();
            await using var reader = await silos.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                spread[reader.GetString(0)] = reader.GetInt64(1);
            Assert.Equal(2, spread.Count);
            Assert.Equal(50, spread.Values.Sum());
            Assert.All(spread.Values, owned => Assert.InRange(owned, 10, 40));
        }

        // Exactly the contract's rows per execution: no event lost or written twice.
        await using var counts = new NpgsqlCommand(
            """
            SELECT e.execution_id, count(*) AS events,
                   (SELECT count(*) FROM noetl.command c WHERE c.execution_id = e.execution_id AND c.status = 'COMPLETED') AS commands,
                   (SELECT count(*) FROM noetl.outbox o WHERE o.execution_id = e.execution_id) AS outbox,
                   count(DISTINCT e.event_id) AS distinct_events
              FROM noetl.event e WHERE e.execution_id = ANY($1) GROUP BY e.execution_id
            """, connection);
        counts.Parameters.AddWithValue(executions.ToArray());
        var rows = 0;
        await using (var reader = await counts.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows++;
                Assert.Equal(19, reader.GetInt64(1));
                Assert.Equal(3, reader.GetInt64(2));
                Assert.Equal(3, reader.GetInt64(3));
                Assert.Equal(reader.GetInt64(1), reader.GetInt64(4));
            }
        }
        Assert.Equal(50, rows);
    }
}
