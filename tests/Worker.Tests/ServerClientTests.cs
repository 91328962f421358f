using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace NoEtl.Worker.Tests;

public class ServerClientTests
{
    [Fact]
    public async Task Refuses_any_origin_but_the_configured_server_so_its_tokens_cannot_leak()
    {
        await using var server = await FakeHttp.StartAsync((_, _) => { });
        await using var foreign = await FakeHttp.StartAsync((_, _) => { });
        var client = TestKit.Server(TestKit.Options(server.Url, "tok"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => client.SendAsync(HttpMethod.Get, $"{foreign.Url}/api/events", null, CancellationToken.None));
        // Userinfo trick: "http://server:1@foreign:2/..." has the foreign host.
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            client.PostWithRetryAsync(client.Url($"@{new Uri(foreign.Url).Authority}/api/events"), new JsonObject(), CancellationToken.None));
        Assert.Empty(foreign.Requests);

        await client.SendAsync(HttpMethod.Get, client.Url("/api/health"), null, CancellationToken.None);
        Assert.Equal("Bearer tok", server.Requests.Single().Authorization);
    }

    [Fact]
    public async Task An_idempotent_call_fails_over_to_the_next_server_and_later_calls_stay_there()
    {
        var dead = await FakeHttp.StartAsync((_, _) => { });
        var deadUrl = dead.Url;
        await dead.DisposeAsync(); // connection refused from now on
        await using var live = await FakeHttp.StartAsync((app, _) => app.MapPost("/api/commands/{id}/claim", () => FakeHttp.Json(new JsonObject())));
        var options = TestKit.Options(deadUrl);
        options.ServerUrls = [deadUrl, live.Url];
        var client = TestKit.Server(options);

        var claim = await client.SendIdempotentAsync(HttpMethod.Post, client.Url("/api/commands/7/claim"), new JsonObject(), CancellationToken.None);

        Assert.Equal(200, claim.Status);
        Assert.Single(live.To("/api/commands/7/claim"));
        Assert.Equal($"{live.Url}/api/events", client.Url("/api/events"));
    }

    [Fact]
    public async Task A_5xx_moves_the_preference_but_only_idempotent_calls_are_sent_again()
    {
        await using var failing = await FakeHttp.StartAsync((app, _) => app.MapPost("/api/{**rest}", () => Results.StatusCode(503)));
        await using var healthy = await FakeHttp.StartAsync((app, _) => app.MapPost("/api/{**rest}", () => FakeHttp.Json(new JsonObject())));
        var options = TestKit.Options(failing.Url);
        options.ServerUrls = [failing.Url, healthy.Url];
        var client = TestKit.Server(options);

        // Not idempotent (an outbox claim): one attempt, its 503 answered, the next call goes to the other server.
        Assert.Equal(503, (await client.PostAsync(client.Url("/api/internal/outbox/claim"), new JsonObject(), CancellationToken.None)).Status);
        Assert.Empty(healthy.Requests);
        Assert.Equal(200, (await client.SendIdempotentAsync(HttpMethod.Post, client.Url("/api/commands/1/claim"), new JsonObject(), CancellationToken.None)).Status);

        // With every server failing, the idempotent call answers the last failure instead of looping.
        options.ServerUrls = [failing.Url];
        var single = TestKit.Server(options);
        Assert.Equal(503, (await single.SendIdempotentAsync(HttpMethod.Post, single.Url("/api/commands/1/claim"), new JsonObject(), CancellationToken.None)).Status);
        Assert.Single(healthy.To("/api/commands/1/claim"));
    }
}
