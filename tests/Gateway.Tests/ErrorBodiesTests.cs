using System.Text;
using System.Text.Json.Nodes;
using NoEtl.ApiGateway.Http;

namespace NoEtl.Gateway.Tests;

/// <summary>Every error body carries <c>error</c>, a string, beside <c>detail</c> (NoETL's GUI reads either).</summary>
public sealed class ErrorBodiesTests
{
    private static JsonObject Rewrite(string body) =>
        JsonNode.Parse(ErrorBodies.WithError(Encoding.UTF8.GetBytes(body)) ?? throw new InvalidOperationException("not rewritten"))!.AsObject();

    [Fact]
    public void A_text_detail_is_repeated_as_error()
    {
        var body = Rewrite("""{"detail":"Credential not found"}""");
        Assert.Equal("Credential not found", body["detail"]!.GetValue<string>());
        Assert.Equal("Credential not found", body["error"]!.GetValue<string>());
    }

    [Fact]
    public void A_coded_detail_gives_its_message_and_keeps_its_code()
    {
        var body = Rewrite("""{"detail":{"code":"wrong_pool","message":"pool 'x' may not use it"}}""");
        Assert.Equal("wrong_pool", body["detail"]!["code"]!.GetValue<string>());
        Assert.Equal("pool 'x' may not use it", body["error"]!.GetValue<string>());
    }

    [Fact]
    public void Validation_lists_are_joined_with_their_locations()
    {
        var body = Rewrite("""{"detail":[{"type":"missing","loc":["body","content"],"msg":"Field required"},{"type":"x","loc":["query","version"],"msg":"bad"}]}""");
        Assert.Equal("body.content: Field required; query.version: bad", body["error"]!.GetValue<string>());
        Assert.Equal(2, body["detail"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("""{"detail":"x","error":"already there"}""")]
    [InlineData("""{"message":"no detail"}""")]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    public void Other_bodies_are_left_alone(string body) => Assert.Null(ErrorBodies.WithError(Encoding.UTF8.GetBytes(body)));
}
