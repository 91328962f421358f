using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Npgsql;
using NoEtl.Worker.Tools;

namespace NoEtl.Worker.Tests;

/// <summary>
/// A throwaway tenant database on the repo's local PostgreSQL (scripts/pg.sh, admin role postgres/postgres),
/// started by the script when it is not running, and dropped afterwards.
/// </summary>
public sealed class TenantDatabase : IAsyncLifetime
{
    private static readonly int Port = int.TryParse(Environment.GetEnvironmentVariable("NOETL_PG_PORT"), out var p) ? p : 55432;

    private static string Admin => $"Host=127.0.0.1;Port={Port};Username=postgres;Password=postgres;Database=postgres;Pooling=false";

    public string Name { get; } = $"worker_tenant_{Guid.NewGuid():N}"[..30];

    public JsonObject Credential => new()
    {
        ["host"] = "127.0.0.1",
        ["port"] = Port,
        ["user"] = "postgres",
        ["password"] = "postgres",
        ["database"] = Name,
    };

    public async Task InitializeAsync()
    {
        if (!await CanConnectAsync())
        {
            await RunScriptAsync("pg.sh", "start");
        }
        await ExecAsync($"CREATE DATABASE {Name}");
    }

    public async Task DisposeAsync() => await ExecAsync($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)");

    private static async Task ExecAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Admin);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<bool> CanConnectAsync()
    {
        try
        {
            await ExecAsync("SELECT 1");
            return true;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    private static async Task RunScriptAsync(string script, string verb)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "scripts", script)))
        {
            dir = dir.Parent;
        }
        using var process = Process.Start(new ProcessStartInfo("bash", [Path.Combine(dir?.FullName ?? ".", "scripts", script), verb])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/{script} {verb} failed: {await stderr}");
        }
    }
}

public class PostgresToolTests(TenantDatabase tenant) : IClassFixture<TenantDatabase>
{
    [Fact]
    public async Task Runs_sql_through_a_credential_alias_and_returns_rows()
    {
        await using var server = await FakeHttp.StartAsync((app, _) =>
            app.MapGet("/api/credentials/{name}", (string name) => name == "tenant_pg"
                ? FakeHttp.Json(new JsonObject { ["name"] = name, ["data"] = tenant.Credential })
                : FakeHttp.Json(new JsonObject { ["detail"] = "Credential not found" }, 404)));
        var executor = TestKit.Executor(TestKit.Server(TestKit.Options(server.Url)));
        var config = TestKit.Obj("""
            {"auth": "tenant_pg",
             "query": "CREATE TABLE t (id int, doc jsonb, name text); INSERT INTO t VALUES (1, '{\"a\": 1}', 'ann'), (2, NULL, 'b'); SELECT id, doc, name FROM t ORDER BY id"}
            """);
        var outcome = await executor.ExecuteAsync("postgres", config, TestKit.Context(), CancellationToken.None);

        Assert.True(outcome.Ok, outcome.Error?.Message);
        Assert.Equal("""[{"id":1,"doc":{"a":1},"name":"ann"},{"id":2,"doc":null,"name":"b"}]""", outcome.Data!["rows"]!.ToJsonString());
        Assert.Equal(2, outcome.Data["row_count"]!.GetValue<int>());
        Assert.Equal("""["id","doc","name"]""", outcome.Data["columns"]!.ToJsonString());
        Assert.Equal("?include_data=true&execution_id=42", server.To("/api/credentials/tenant_pg").Single().Query);
    }

    [Fact]
    public async Task Sql_errors_and_the_noetl_schema_are_error_outcomes()
    {
        await using var server = await FakeHttp.StartAsync((app, _) =>
            app.MapGet("/api/credentials/{name}", () => FakeHttp.Json(new JsonObject { ["data"] = tenant.Credential })));
        var executor = TestKit.Executor(TestKit.Server(TestKit.Options(server.Url)));

        var bad = await executor.ExecuteAsync("postgres", TestKit.Obj("""{"auth": "x", "query": "SELECT * FROM missing_table"}"""), TestKit.Context(), CancellationToken.None);
        Assert.False(bad.Ok);
        Assert.Equal("postgres", bad.Error!.Kind);
        Assert.Equal("42P01", bad.Error.Code);

        var control = await executor.ExecuteAsync("postgres", TestKit.Obj("""{"auth": "x", "query": "SELECT * FROM noetl.event"}"""), TestKit.Context(), CancellationToken.None);
        Assert.False(control.Ok);
        Assert.Contains("noetl control-plane schema", control.Error!.Message);
    }

    [Fact]
    public void Connection_string_from_dsn_or_fields()
    {
        var fromDsn = new NpgsqlConnectionStringBuilder(PostgresTool.ConnectionString(TestKit.Obj("""{"dsn": "postgresql://u%40x:p%3Aw@db.local:6543/tenant"}""")));
        Assert.Equal(("db.local", 6543, "u@x", "p:w", "tenant"), (fromDsn.Host, fromDsn.Port, fromDsn.Username, fromDsn.Password, fromDsn.Database));
        var fromFields = new NpgsqlConnectionStringBuilder(PostgresTool.ConnectionString(TestKit.Obj("""{"host": "h", "port": "5433", "username": "u", "password": "p", "dbname": "d"}""")));
        Assert.Equal(("h", 5433, "u", "p", "d"), (fromFields.Host, fromFields.Port, fromFields.Username, fromFields.Password, fromFields.Database));
    }
}
