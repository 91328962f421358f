using NoEtl.Grains.Telemetry;

namespace NoEtl.Grains.Tests;

public sealed class LogTextTests
{
    [Theory]
    [InlineData("etl/daily", "etl/daily")]
    [InlineData("a\nFAKE: forged line", "a\\nFAKE: forged line")]
    [InlineData("a\r\nb\tc", "a\\r\\nb\\tc")]
    [InlineData("a\u001b[31mb\u0085c\u2028d", "a\\u001b[31mb\\u0085c\\u2028d")]
    [InlineData(null, null)]
    public void Control_characters_are_escaped_so_a_value_stays_on_its_log_line(string? value, string? expected) =>
        Assert.Equal(expected, LogText.Escape(value));
}
