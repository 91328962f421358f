using Microsoft.AspNetCore.Http;
using NoEtl.ApiGateway.Http;
using NoEtl.Grains;

namespace NoEtl.Gateway.Tests;

/// <summary>How exceptions that escape a route are answered: each failure says what it is, never a stack trace.</summary>
public sealed class ErrorHandlingTests
{
    private static HttpRequest Request(string method) => new DefaultHttpContext { Request = { Method = method } }.Request;

    [Fact]
    public void An_orleans_response_timeout_is_504_timeout_not_a_database_outage()
    {
        var (status, body) = ErrorHandling.Classify(new TimeoutException("Response did not arrive on time"), Request("POST"), clientGone: false);
        Assert.Equal(504, status);
        Assert.Equal("timeout", body["detail"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public void Input_postgres_refused_is_422_in_fastapi_shape()
    {
        var (status, body) = ErrorHandling.Classify(new InvalidInputException("22021", "Invalid input: a NUL"), Request("GET"), clientGone: false);
        Assert.Equal(422, status);
        var error = body["detail"]!.AsArray().Single()!;
        Assert.Equal("value_error", error["type"]!.GetValue<string>());
        Assert.Equal("query", error["loc"]![0]!.GetValue<string>());
        Assert.Equal("Invalid input: a NUL", error["msg"]!.GetValue<string>());
    }

    [Fact]
    public void Database_outages_stay_503_and_the_unknown_500()
    {
        Assert.Equal(503, ErrorHandling.Classify(new DatabaseUnavailableException("db_unavailable", "down"), Request("POST"), false).Status);
        Assert.Equal(500, ErrorHandling.Classify(new InvalidOperationException("boom"), Request("POST"), false).Status);
    }
}
