using Microsoft.Extensions.Configuration;
using NoEtl.Grains.Hosting;
using NoEtl.Orchestration.Playbooks;
using NoEtl.Orchestration.Templates;

namespace NoEtl.Grains.Tests.Hosting;

public sealed class ServerOptionsTests
{
    private static ServerOptions Read(params (string Key, string Value)[] values) => ServerOptions.FromConfiguration(
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build());

    [Fact]
    public void Unset_or_blank_settings_keep_their_defaults()
    {
        var options = Read(("NOETL_COMMAND_CLAIM_LEASE_SECONDS", ""), ("NOETL_COMMIT_WRITERS", "  "), ("NOETL_TEMPLATE_MAX_DEPTH", ""));
        var defaults = new ServerOptions();
        Assert.Equal(defaults.ClaimLeaseSeconds, options.ClaimLeaseSeconds);
        Assert.Equal(defaults.CommitWriters, options.CommitWriters);
        Assert.Equal(10_000, options.CommitQueueMaxTurns);
        Assert.Equal(PlaybookLimits.Default, options.Limits);
    }

    [Theory]
    [InlineData("NOETL_COMMAND_CLAIM_LEASE_SECONDS", "abc", "NOETL_COMMAND_CLAIM_LEASE_SECONDS must be a non-negative integer, not 'abc'")]
    [InlineData("NOETL_COMMAND_CLAIM_LEASE_SECONDS", "-5", "NOETL_COMMAND_CLAIM_LEASE_SECONDS must be a non-negative integer, not '-5'")]
    [InlineData("NOETL_OUTBOX_MAX_WAIT_MS", "1.5", "NOETL_OUTBOX_MAX_WAIT_MS must be a non-negative integer, not '1.5'")]
    [InlineData("NOETL_COMMIT_WRITERS", "0", "NOETL_COMMIT_WRITERS must be a positive integer, not '0'")]
    [InlineData("NOETL_COMMIT_QUEUE_MAX_TURNS", "99999999999", "NOETL_COMMIT_QUEUE_MAX_TURNS must be a positive integer, not '99999999999'")]
    [InlineData("NOETL_REMINDER_PERIOD_SECONDS", "0", "NOETL_REMINDER_PERIOD_SECONDS must be a positive integer, not '0'")]
    [InlineData("NOETL_REQUIRE_LEASE_TOKEN", "sure", "NOETL_REQUIRE_LEASE_TOKEN must be true or false, not 'sure'")]
    [InlineData("NOETL_YAML_MAX_DEPTH", "65", "NOETL_YAML_MAX_DEPTH must be an integer from 1 to 64, not '65'")]
    [InlineData("NOETL_TEMPLATE_MAX_DEPTH", "257", "NOETL_TEMPLATE_MAX_DEPTH must be an integer from 1 to 256, not '257'")]
    [InlineData("NOETL_PLAYBOOK_MAX_STEPS", "many", "NOETL_PLAYBOOK_MAX_STEPS must be a positive integer, not 'many'")]
    public void A_bad_value_stops_start_up_naming_the_variable_and_the_value(string key, string value, string message)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Read((key, value)));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Engine_limits_come_from_their_variables()
    {
        var limits = Read(
            ("NOETL_YAML_MAX_DEPTH", "10"), ("NOETL_YAML_MAX_NODES", "500"), ("NOETL_PLAYBOOK_MAX_STEPS", "5"), ("NOETL_PLAYBOOK_MAX_ARCS", "7"), ("NOETL_LOOP_MAX_ITEMS", "9"),
            ("NOETL_TEMPLATE_MAX_OUTPUT_BYTES", "2048"), ("NOETL_TEMPLATE_MAX_STEPS", "300"), ("NOETL_TEMPLATE_MAX_DEPTH", "8")).Limits;
        Assert.Equal(new PlaybookLimits
        {
            MaxYamlDepth = 10,
            MaxYamlNodes = 500,
            MaxSteps = 5,
            MaxArcs = 7,
            MaxLoopItems = 9,
            Templates = new TemplateLimits { MaxOutputLength = 2048, MaxSteps = 300, MaxDepth = 8 },
        }, limits);
    }

    [Fact]
    public void Settings_are_read_as_given()
    {
        var options = Read(("NOETL_COMMAND_CLAIM_LEASE_SECONDS", " 30 "), ("NOETL_COMMIT_QUEUE_MAX_TURNS", "3"), ("NOETL_REQUIRE_LEASE_TOKEN", "TRUE"));
        Assert.Equal(30, options.ClaimLeaseSeconds);
        Assert.Equal(3, options.CommitQueueMaxTurns);
        Assert.True(options.RequireLeaseToken);
    }
}
