using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>
/// Input that the gateway lets through but PostgreSQL refuses (a NUL character, an index row too large) is the
/// client's fault: 422 in FastAPI's shape, never a 500, and no driver text in the answer.
/// </summary>
[Collection(SystemCollection.Name)]
public sealed class DataErrorTests(SystemFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Input_that_postgres_refuses_is_422_not_500()
    {
        var path = $"it/data-errors/{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);

        var requests = new (string What, HttpMethod Method, string Route, string? Body)[]
        {
            ("a NUL in an audit filter", HttpMethod.Get, "/api/audit?principal=%00", null),
            ("a NUL in a cancel reason", HttpMethod.Post, $"/api/executions/{executionId}/cancel", """{"reason":"stop\u0000now","cascade":false}"""),
            ("a 1 MB event name", HttpMethod.Post, "/api/events", new JsonObject
            {
                ["execution_id"] = executionId.ToString(), ["step"] = "start", ["name"] = new string('n', 1024 * 1024), ["payload"] = new JsonObject(),
            }.ToJsonString()),
            ("a NUL in a credential name", HttpMethod.Post, "/api/credentials", """{"name":"bad\u0000name","data":{"a":1}}"""),
        };
        foreach (var (what, method, route, body) in requests)
        {
            var response = await Http.Send(method, route, rawBody: body);
            Assert.True(response.Status == HttpStatusCode.UnprocessableEntity, $"{what}: {(int)response.Status} {response.Text}");
            var detail = Assert.IsType<JsonArray>(response.Json["detail"], exactMatch: false);
            // The gateway's strict reader stops most of these before a grain (string_unicode, string_too_long); what
            // reaches PostgreSQL anyway is classified by the grain filter as value_error. Either way: FastAPI's shape.
            Assert.NotEmpty(detail[0]!["type"]!.GetValue<string>());
            Assert.NotNull(detail[0]!["loc"]);
            Assert.DoesNotContain("Npgsql", response.Text);
        }
        // The execution is still usable: the refused cancel changed nothing.
        Assert.Equal(HttpStatusCode.OK, (await Http.Get($"/api/executions/{executionId}/status")).Status);
    }
}

/// <summary>An Orleans call that outlives the gateway's response timeout is a timeout, not a database outage.</summary>
public sealed class GrainTimeoutTests : IAsyncLifetime
{
    private NoEtlSystem _system = null!;

    public async Task InitializeAsync() => _system = await NoEtlSystem.StartAsync(silos: 1, poolSize: 4,
        gatewaySettings: new() { ["NOETL_GRAIN_RESPONSE_TIMEOUT_SECONDS"] = "2" });

    public async Task DisposeAsync() => await _system.DisposeAsync();

    [Fact]
    public async Task A_grain_call_past_the_response_timeout_is_504_timeout_with_retry_after()
    {
        // An empty outbox long-polls for the whole wait_ms, longer than the gateway waits for the grain.
        var response = await _system.Http.Send(HttpMethod.Post, "/api/internal/outbox/claim", new { limit = 1, wait_ms = 8000 },
            bearer: $"Bearer {NoEtlSystem.InternalToken}");
        Assert.True(response.Status == HttpStatusCode.GatewayTimeout, $"{(int)response.Status} {response.Text}");
        Assert.Equal("timeout", response.Json["detail"]!["code"]!.GetValue<string>());
        Assert.NotNull(response.Raw.Headers.RetryAfter);
    }
}
