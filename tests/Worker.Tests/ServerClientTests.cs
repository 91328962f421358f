using System.Text.Json.Nodes;

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
}
