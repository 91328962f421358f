using NoEtl.Cli.Arguments;

namespace NoEtl.Cli.Tests;

public class ArgParserTests
{
    private static readonly OptionSpec[] ExecOptions = [new("input", "JSON", ""), new("wait", null, "")];

    private static Invocation Parse(params string[] args) => ArgParser.Parse(args, name => name == "exec" ? ExecOptions : null);

    [Fact]
    public void Global_options_may_come_before_or_after_the_command()
    {
        var invocation = Parse("--server", "http://s:1", "exec", "a/b", "--json", "--token=t", "--wait", "--input", "{}");

        Assert.Equal("exec", invocation.Command);
        Assert.Equal(["a/b"], invocation.Arguments);
        Assert.Equal("http://s:1", invocation.Server);
        Assert.Equal("t", invocation.Token);
        Assert.True(invocation.Json);
        Assert.True(invocation.Has("wait"));
        Assert.Equal("{}", invocation.Get("input"));
    }

    [Fact]
    public void Inline_values_and_double_dash_are_supported()
    {
        var invocation = Parse("exec", "--input={\"a\":1}", "--", "--not-an-option");

        Assert.Equal("{\"a\":1}", invocation.Get("input"));
        Assert.Equal(["--not-an-option"], invocation.Arguments);
    }

    [Fact]
    public void Help_is_recognised_in_both_forms()
    {
        Assert.True(Parse("-h").Help);
        Assert.True(Parse("exec", "--help").Help);
    }

    [Theory]
    [InlineData("exec", "--bogus")]
    [InlineData("exec", "--wait=yes")]
    [InlineData("exec", "--input")]
    [InlineData("exec", "-x")]
    [InlineData("status", "--wait")]
    public void Bad_options_are_usage_errors(params string[] args) =>
        Assert.Throws<UsageException>(() => Parse(args));

    [Fact]
    public void Input_is_inline_json_or_a_file()
    {
        var file = Path.GetTempFileName();
        File.WriteAllText(file, """{"name": "from file"}""");
        try
        {
            Assert.Equal("from file", WorkloadOption.Read("@" + file)["name"]!.ToString());
            Assert.Equal(1, (int)WorkloadOption.Read("""{"n": 1}""")["n"]!);
            Assert.Empty(WorkloadOption.Read(null));
            Assert.Throws<UsageException>(() => WorkloadOption.Read("[1]"));
            Assert.Throws<UsageException>(() => WorkloadOption.Read("{nope"));
            Assert.Throws<UsageException>(() => WorkloadOption.Read("@/does/not/exist.json"));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
