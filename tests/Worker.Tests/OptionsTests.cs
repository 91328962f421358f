using Microsoft.Extensions.Configuration;
using NoEtl.Worker.Runtime;

namespace NoEtl.Worker.Tests;

public class OptionsTests
{
    private static WorkerOptions Bind(Dictionary<string, string?> values, params string[] args) =>
        WorkerOptions.FromConfiguration(new ConfigurationBuilder().AddInMemoryCollection(values).AddCommandLine(args).Build());

    [Fact]
    public void Defaults_follow_the_pool()
    {
        var o = Bind([]);
        Assert.Equal("shared", o.Pool);
        Assert.Equal(["http://127.0.0.1:8082"], o.ServerUrls);
        Assert.Equal("nats://127.0.0.1:14222", o.Nats.Url);
        Assert.Equal("NOETL_COMMANDS", o.Nats.Stream);
        Assert.Equal("noetl.commands", o.Nats.Subject);
        Assert.Equal("noetl.commands.shared.>", o.Nats.FilterSubject);
        Assert.Equal("noetl-worker-shared", o.Nats.Consumer);
        Assert.Equal(4, o.MaxConcurrent);
        Assert.Equal(TimeSpan.FromSeconds(15), o.HeartbeatInterval);
        Assert.False(o.Outbox.Enabled);
        Assert.Null(o.InternalApiToken);
    }

    [Fact]
    public void System_pool_from_command_line_turns_on_the_outbox()
    {
        var o = Bind(new() { ["NOETL_WORKER_POOL"] = "shared" }, "--pool", "system");
        Assert.Equal("system", o.Pool);
        Assert.Equal("noetl.commands.system.>", o.Nats.FilterSubject);
        Assert.Equal("noetl-worker-system", o.Nats.Consumer);
        Assert.True(o.Outbox.Enabled);
    }

    [Fact]
    public void Binds_noetl_env_names()
    {
        var o = Bind(new()
        {
            ["NOETL_WORKER_POOL"] = "system",
            ["NOETL_SERVER_URL"] = "http://server:9000/",
            ["NATS_URL"] = "nats://n:4222",
            ["NATS_STREAM"] = "S",
            ["NATS_SUBJECT"] = "cmds",
            ["NATS_FILTER_SUBJECT"] = "cmds.x.>",
            ["NATS_CONSUMER"] = "c1",
            ["WORKER_MAX_CONCURRENT"] = "8",
            ["WORKER_ID"] = "w-1",
            ["WORKER_HEARTBEAT_INTERVAL"] = "2.5",
            ["NOETL_INTERNAL_API_TOKEN"] = " tok ",
            ["NOETL_KEYCHAIN_ENV_VARS"] = "A, B ,,C",
            ["NOETL_OUTBOX_PUBLISHER"] = "false",
        });
        Assert.Equal(["http://server:9000"], o.ServerUrls);
        Assert.Equal("nats://n:4222", o.Nats.Url);
        Assert.Equal("S", o.Nats.Stream);
        Assert.Equal("cmds", o.Nats.Subject);
        Assert.Equal("cmds.x.>", o.Nats.FilterSubject);
        Assert.Equal("c1", o.Nats.Consumer);
        Assert.Equal(8, o.MaxConcurrent);
        Assert.Equal("w-1", o.WorkerId);
        Assert.Equal(TimeSpan.FromSeconds(2.5), o.HeartbeatInterval);
        Assert.Equal("tok", o.InternalApiToken);
        Assert.Equal(["A", "B", "C"], o.KeychainEnvVars);
        Assert.False(o.Outbox.Enabled);
    }

    [Theory]
    [InlineData("WORKER_MAX_CONCURRENT", "abc", "WORKER_MAX_CONCURRENT must be a positive integer, not 'abc'")]
    [InlineData("WORKER_MAX_CONCURRENT", "0", "WORKER_MAX_CONCURRENT must be a positive integer, not '0'")]
    [InlineData("WORKER_HEARTBEAT_INTERVAL", "-1", "WORKER_HEARTBEAT_INTERVAL must be a positive number of seconds, not '-1'")]
    [InlineData("WORKER_DRAIN_TIMEOUT", "10s", "WORKER_DRAIN_TIMEOUT must be a positive number of seconds, not '10s'")]
    [InlineData("NOETL_RESULT_INLINE_MAX_BYTES", "1e6", "NOETL_RESULT_INLINE_MAX_BYTES must be a non-negative integer, not '1e6'")]
    [InlineData("NATS_MAX_DELIVER", "-2", "NATS_MAX_DELIVER must be an integer of at least -1, not '-2'")]
    [InlineData("NOETL_OUTBOX_PUBLISHER", "maybe", "NOETL_OUTBOX_PUBLISHER must be true or false, not 'maybe'")]
    [InlineData("NOETL_OUTBOX_BATCH_SIZE", "0", "NOETL_OUTBOX_BATCH_SIZE must be a positive integer, not '0'")]
    [InlineData("NOETL_SERVER_URL", "http://a:8082,gateway-b:8082", "NOETL_SERVER_URL must be an http(s) URL or a comma-separated list of them, not 'http://a:8082,gateway-b:8082'")]
    [InlineData("NOETL_SERVER_HTTP_TIMEOUT_SECONDS", "0", "NOETL_SERVER_HTTP_TIMEOUT_SECONDS must be a positive number of seconds, not '0'")]
    [InlineData("NOETL_SCRIPT_BASE_PATH", "/no/such/folder", "NOETL_SCRIPT_BASE_PATH must be an existing directory, not '/no/such/folder'")]
    public void A_bad_value_stops_start_up_naming_the_variable_and_the_value(string key, string value, string message)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Bind(new() { [key] = value }));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void A_list_of_server_urls_binds_in_order_and_the_http_timeout_with_it()
    {
        var o = Bind(new() { ["NOETL_SERVER_URL"] = " http://gw-a:8082/ , http://gw-b:8082,,", ["NOETL_SERVER_HTTP_TIMEOUT_SECONDS"] = "5" });
        Assert.Equal(["http://gw-a:8082", "http://gw-b:8082"], o.ServerUrls);
        Assert.Equal(TimeSpan.FromSeconds(5), o.ServerHttpTimeout);
    }

    [Fact]
    public void Script_base_path_defaults_to_the_working_directory_and_binds_as_a_full_path()
    {
        Assert.Equal(Directory.GetCurrentDirectory(), Bind([]).ScriptBasePath);
        var folder = Path.Combine(Path.GetTempPath(), $"noetl-scripts-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            Assert.Equal(folder, Bind(new() { ["NOETL_SCRIPT_BASE_PATH"] = $" {folder}/./ " }).ScriptBasePath.TrimEnd('/'));
        }
        finally
        {
            Directory.Delete(folder);
        }
    }

    [Fact]
    public void Blank_values_keep_the_defaults()
    {
        var o = Bind(new() { ["WORKER_MAX_CONCURRENT"] = "", ["WORKER_HEARTBEAT_INTERVAL"] = " ", ["NATS_MAX_DELIVER"] = "", ["NOETL_OUTBOX_PUBLISHER"] = "" });
        Assert.Equal(4, o.MaxConcurrent);
        Assert.Equal(TimeSpan.FromSeconds(15), o.HeartbeatInterval);
        Assert.Equal(10, o.Nats.MaxDeliver);
        Assert.False(o.Outbox.Enabled);
    }

    [Fact]
    public void Keychain_loads_only_the_allow_listed_variables()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["A"] = "1", ["SECRET"] = "2" }).Build();
        var keychain = WorkerKeychain.FromConfiguration(config, ["A", "MISSING"]);
        Assert.True(keychain.TryGet("A", out var a));
        Assert.Equal("1", a);
        Assert.False(keychain.TryGet("SECRET", out _));
        Assert.False(keychain.TryGet("MISSING", out _));
    }

    [Fact]
    public void Environment_variables_reach_the_options()
    {
        // The real path: Host.CreateApplicationBuilder reads unprefixed env vars into configuration.
        const string name = "WORKER_ID";
        var previous = Environment.GetEnvironmentVariable(name);
        Environment.SetEnvironmentVariable(name, "env-worker");
        try
        {
            var o = WorkerOptions.FromConfiguration(new ConfigurationBuilder().AddEnvironmentVariables().Build());
            Assert.Equal("env-worker", o.WorkerId);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, previous);
        }
    }
}
