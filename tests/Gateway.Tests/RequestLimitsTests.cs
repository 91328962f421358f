using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NoEtl.ApiGateway.Http;

namespace NoEtl.Gateway.Tests;

/// <summary>The gateway's request limits are settings with safe defaults, and the body reader applies them.</summary>
public sealed class RequestLimitsTests
{
    private static RequestLimits From(params (string Key, string Value)[] settings) => RequestLimits.From(
        new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build());

    [Fact]
    public void Defaults_hold_when_nothing_is_set_and_bad_values_stop_start_up_naming_the_variable()
    {
        var defaults = From();
        Assert.Equal((32, 255, 65_536, 16L * 1024 * 1024), (defaults.MaxJsonDepth, defaults.MaxIdentifierLength, defaults.MaxTextLength, defaults.MaxBodyBytes));
        Assert.Equal(100, From(("NOETL_REQUEST_MAX_IDENTIFIER_LENGTH", "100")).MaxIdentifierLength);
        foreach (var (key, value) in new[]
        {
            ("NOETL_REQUEST_MAX_JSON_DEPTH", "64"), ("NOETL_REQUEST_MAX_IDENTIFIER_LENGTH", "5000"),
            ("NOETL_REQUEST_MAX_TEXT_LENGTH", "0"), ("NOETL_REQUEST_MAX_BODY_BYTES", "lots"),
        })
        {
            var refused = Assert.Throws<InvalidOperationException>(() => From((key, value)));
            Assert.Contains(key, refused.Message);
        }
    }

    [Fact]
    public async Task The_body_reader_applies_the_configured_identifier_length_and_depth()
    {
        var limits = From(("NOETL_REQUEST_MAX_IDENTIFIER_LENGTH", "8"), ("NOETL_REQUEST_MAX_JSON_DEPTH", "3"));
        var (shortName, _) = await Read(limits, """{"name": "12345678"}""");
        Assert.Equal("12345678", shortName!.String("name"));
        Assert.False(shortName.HasErrors);

        var (longName, _) = await Read(limits, """{"name": "123456789"}""");
        longName!.String("name");
        Assert.True(longName.HasErrors);

        var (_, tooDeep) = await Read(limits, """{"a": {"b": {"c": {"d": 1}}}}""");
        Assert.NotNull(tooDeep);
    }

    private static Task<(RequestBody? Body, IResult? Error)> Read(RequestLimits limits, string json)
    {
        var context = new DefaultHttpContext
        {
            RequestServices = new ServiceCollection().AddSingleton(limits).BuildServiceProvider(),
        };
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(json));
        return RequestBody.ReadAsync(context.Request);
    }
}
