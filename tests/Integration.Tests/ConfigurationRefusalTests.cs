using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>A process given a bad setting refuses to start, and says which one, instead of running on a default.</summary>
public sealed class ConfigurationRefusalTests
{
    [Fact]
    public async Task A_silo_with_a_bad_setting_exits_naming_the_variable_and_the_value()
    {
        var (code, output) = await RunUntilExitAsync("silo", BuildOutput.Silo, new()
        {
            ["NOETL_COMMAND_CLAIM_LEASE_SECONDS"] = "abc",
            ["NOETL_ENCRYPTION_KEY"] = NoEtlSystem.EncryptionKey,
            ["ConnectionStrings__Noetl"] = "Host=127.0.0.1;Port=1;Database=none", // never reached: settings are read first
        });
        Assert.NotEqual(0, code);
        Assert.Contains("NOETL_COMMAND_CLAIM_LEASE_SECONDS must be a non-negative integer, not 'abc'", output);
    }

    [Fact]
    public async Task A_worker_with_a_bad_setting_exits_naming_the_variable_and_the_value()
    {
        var (code, output) = await RunUntilExitAsync("worker", BuildOutput.Worker, new()
        {
            ["WORKER_MAX_CONCURRENT"] = "abc",
            ["NOETL_SERVER_URL"] = "http://127.0.0.1:1",
        });
        Assert.NotEqual(0, code);
        Assert.Contains("WORKER_MAX_CONCURRENT must be a positive integer, not 'abc'", output);
    }

    [Fact]
    public async Task A_silo_waits_for_an_unreachable_database_then_gives_up_with_a_message_not_a_crash()
    {
        var (code, output) = await RunUntilExitAsync("silo", BuildOutput.Silo, new()
        {
            ["NOETL_ENCRYPTION_KEY"] = NoEtlSystem.EncryptionKey,
            ["NOETL_DB_STARTUP_TIMEOUT_SECONDS"] = "3",
            ["ConnectionStrings__Noetl"] = $"Host=127.0.0.1;Port={ProcessHost.FreePort()};Database=none;Timeout=1",
        });
        Assert.Equal(3, code);
        Assert.Contains("schema migration: PostgreSQL not available yet (attempt 2", output); // it retried
        Assert.Contains("PostgreSQL still unavailable after NOETL_DB_STARTUP_TIMEOUT_SECONDS=3", output);
        Assert.DoesNotContain("Unhandled exception", output);
    }

    private static async Task<(int Code, string Output)> RunUntilExitAsync(string name, string assembly, Dictionary<string, string> environment)
    {
        await using var process = ProcessHost.Start(name, assembly, environment);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var code = await process.WaitForExitAsync(timeout.Token);
        return (code, process.Output);
    }
}
