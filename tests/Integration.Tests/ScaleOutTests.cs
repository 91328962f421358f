using Npgsql;
using NoEtl.Integration.Tests.Faults;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>
/// Three silos behind two gateways: hash placement spreads executions over all three, and either gateway routes
/// every call (execute, claim, events, detail) to the owning grain without knowing where it lives.
/// </summary>
public sealed class ScaleOutTests : IAsyncLifetime
{
    private NoEtlSystem _system = null!;

    public async Task InitializeAsync() => _system = await NoEtlSystem.StartAsync(silos: 3, poolSize: 6);

    public async Task DisposeAsync() => await _system.DisposeAsync();

    [Fact]
    public async Task Executions_spread_over_three_silos_and_two_gateways_route_every_call()
    {
        var (_, secondUrl) = await _system.StartGatewayAsync(NoEtlSystem.InternalToken);
        using var second = new HttpClient(new RoleAwareTokens()) { BaseAddress = new Uri(secondUrl), Timeout = TimeSpan.FromSeconds(30) };
        var path = $"tests/scale_{Guid.NewGuid():N}";
        await _system.Http.Register(FaultRun.ChainPlaybook(path, 3));
        // The driver rotates gateways on every look at an execution, so each is worked through both.
        var driver = new LoadDriver([_system.Http, second], TimeSpan.Zero);
        var executions = await driver.StartExecutionsAsync(path, 45);
        await driver.RunAsync(executions, 15, DateTime.UtcNow.AddSeconds(90));

        var ledger = await Ledger.CheckAsync(_system.Database.AdminConnectionString, executions, 3);
        Assert.True(ledger.Clean, ledger.ToString());
        Assert.Equal(45, ledger.Completed);

        await using var connection = new NpgsqlConnection(_system.Database.AdminConnectionString);
        await connection.OpenAsync();
        await using var silos = new NpgsqlCommand(
            """
            SELECT meta->>'issued_by_silo', count(DISTINCT execution_id) FROM noetl.event
             WHERE event_type = 'command.issued' AND execution_id = ANY($1) GROUP BY 1
            """, connection);
        silos.Parameters.AddWithValue(executions.ToArray());
        var spread = new Dictionary<string, long>();
        await using var reader = await silos.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            spread[reader.GetString(0)] = reader.GetInt64(1);
        Assert.Equal(3, spread.Count);
        Assert.Equal(45, spread.Values.Sum());
        Assert.All(spread.Values, owned => Assert.InRange(owned, 5, 30));
    }
}
