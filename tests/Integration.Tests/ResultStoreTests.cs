using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>
/// A system whose user-pool worker sends every result over 1 KiB to the result store, and whose silo caps stored
/// results at 256 KiB.
/// </summary>
public sealed class ResultStoreFixture : IAsyncLifetime
{
    public const int MaxBytes = 256 * 1024;

    public NoEtlSystem System { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        System = await NoEtlSystem.StartAsync(silos: 1, poolSize: 8, withNats: true, siloSettings: new()
        {
            ["NOETL_RESULT_STORE_MAX_BYTES"] = MaxBytes.ToString(),
        });
        await System.StartWorkerAsync("system", "system-worker-1");
        await System.StartWorkerAsync("shared", "shared-worker-1", new() { ["NOETL_RESULT_INLINE_MAX_BYTES"] = "1024" });
    }

    public async Task DisposeAsync() => await System.DisposeAsync();
}

/// <summary>The result store (noetl-api.md §1.1 (12/13)): <c>PUT /api/result/{execution_id}</c> and its reads.</summary>
public sealed class ResultStoreTests(ResultStoreFixture fixture) : IClassFixture<ResultStoreFixture>
{
    private HttpClient Http => fixture.System.Http;

    private static string BigResult(string path) => $$$"""
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata:
          name: big_result
          path: {{{path}}}
        workflow:
          - step: start
            tool:
              kind: python
              code: "result = {'rows': ['row-%05d' % i for i in range(500)], 'authorization': 'Bearer abcdefghijklmnop0123456789'}"
        """;

    [Fact]
    public async Task A_result_over_the_inline_cap_is_stored_referenced_by_call_done_and_readable_back()
    {
        var path = $"it/results/{Guid.NewGuid():N}";
        await Http.Register(BigResult(path));
        var executionId = await Http.Execute(path);
        var status = await Http.WaitTerminalAsync(executionId);
        Assert.True(status["status"]!.GetValue<string>() == "COMPLETED", status.ToJsonString());

        var callDone = (await Http.Events(executionId)).Single(e => e!["event_type"]!.GetValue<string>() == "call.done")!;
        var reference = callDone["result"]!["reference"]!;
        Assert.Null(callDone["result"]!["context"]);
        var referenceText = reference["ref"]!.GetValue<string>();
        Assert.StartsWith($"noetl://execution/{executionId}/result/start/", referenceText);
        Assert.Equal("postgres", reference["store"]!.GetValue<string>());
        Assert.Equal("execution", reference["scope"]!.GetValue<string>());
        Assert.Equal(64, reference["sha256"]!.GetValue<string>().Length);
        Assert.True(reference["bytes"]!.GetValue<int>() > 1024, reference.ToJsonString());
        Assert.NotNull(reference["expires_at"]);

        foreach (var route in new[] { $"/api/result/{executionId}/start", $"/api/result/resolve?ref={Uri.EscapeDataString(referenceText)}" })
        {
            var read = await Http.Get(route);
            Assert.True(read.Status == HttpStatusCode.OK, $"{route}: {(int)read.Status} {read.Text}");
            Assert.Equal(referenceText, read.Json["ref"]!.GetValue<string>());
            var rows = read.Json["data"]!["rows"]!.AsArray();
            Assert.Equal(500, rows.Count);
            Assert.Equal("row-00499", rows[499]!.GetValue<string>());
            Assert.DoesNotContain("abcdefghijklmnop0123456789", read.Text); // scrubbed when stored
        }
        Assert.Equal(HttpStatusCode.NotFound, (await Http.Get($"/api/result/{executionId}/nothing_by_that_name")).Status);
    }

    [Fact]
    public async Task Hostile_puts_are_refused_with_a_4xx()
    {
        var path = $"it/results/{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        var route = $"/api/result/{executionId}";

        var stored = await Http.Send(HttpMethod.Put, route, new { name = "small", data = new { a = 1 } });
        Assert.True(stored.Status == HttpStatusCode.OK, stored.Text);

        var oversized = await Http.Send(HttpMethod.Put, route, new { name = "huge", data = new { blob = new string('x', ResultStoreFixture.MaxBytes + 10) } });
        Assert.True(oversized.Status == HttpStatusCode.RequestEntityTooLarge, $"{(int)oversized.Status} {oversized.Text}");
        Assert.NotNull(oversized.Json["detail"]);

        var wrongPool = await Http.Send(HttpMethod.Put, route, new { name = "forged", data = new { a = 1 } }, bearer: $"Bearer {NoEtlSystem.InternalToken}");
        Assert.True(wrongPool.Status == HttpStatusCode.Forbidden, wrongPool.Text);
        Assert.Equal("wrong_pool", wrongPool.Json["detail"]!["code"]!.GetValue<string>());

        var asOperator = await Http.Send(HttpMethod.Put, route, new { name = "op", data = new { a = 1 } }, bearer: $"Bearer {PrincipalTokens.Operator}");
        Assert.Equal(HttpStatusCode.Forbidden, asOperator.Status);

        var unknown = await Http.Send(HttpMethod.Put, "/api/result/123456789", new { name = "x", data = new { a = 1 } });
        Assert.True(unknown.Status == HttpStatusCode.NotFound, unknown.Text);

        foreach (var body in new[]
        {
            """{"name":"a\u0000b","data":{"a":1}}""",
            """{"name":"a/b","data":{"a":1}}""",
            """{"name":"","data":{"a":1}}""",
            """{"data":{"a":1}}""",
            """{"name":"x"}""",
            """{"name":"x","data":{"a":1},"scope":"galaxy"}""",
            """{"name":"x","data":{"a":1},"store":"floppy"}""",
            """{"name":"x","data":{"a":1},"ttl":"soon"}""",
            """{"name":"x","data":{"k":"a\u0000b"}}""",
            "{nope",
        })
        {
            var refused = await Http.Send(HttpMethod.Put, route, rawBody: body);
            Assert.True((int)refused.Status is >= 400 and < 500, $"{body}: {(int)refused.Status} {refused.Text}");
            Assert.NotNull(refused.Json["detail"]);
        }
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Http.Send(HttpMethod.Put, "/api/result/abc", new { name = "x", data = 1 })).Status);

        // Only the legitimate one is readable; the refused names were never stored.
        Assert.Equal(HttpStatusCode.OK, (await Http.Get($"{route}/small")).Status);
        foreach (var name in new[] { "huge", "forged", "op" })
            Assert.Equal(HttpStatusCode.NotFound, (await Http.Get($"{route}/{name}")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Http.Send(HttpMethod.Get, $"{route}/small", bearer: $"Bearer {NoEtlSystem.InternalToken}")).Status);
    }

    [Fact]
    public async Task Expired_results_are_not_served_and_the_cleanup_purge_deletes_them()
    {
        var path = $"it/results/{Guid.NewGuid():N}";
        await Http.Register(Playbooks.OneStep(path));
        var executionId = await Http.Execute(path);
        var shortLived = await Http.Send(HttpMethod.Put, $"/api/result/{executionId}", new { name = "brief", data = new { a = 1 }, ttl = "1s" });
        Assert.True(shortLived.Status == HttpStatusCode.OK, shortLived.Text);
        var kept = await Http.Send(HttpMethod.Put, $"/api/result/{executionId}", new { name = "kept", data = new { a = 2 }, scope = "permanent" });
        Assert.Null(kept.Json["expires_at"]);
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Equal(HttpStatusCode.NotFound, (await Http.Get($"/api/result/{executionId}/brief")).Status);

        var purge = await Http.Send(HttpMethod.Post, "/api/internal/cleanup/purge", new { }, bearer: $"Bearer {NoEtlSystem.InternalToken}");
        Assert.True(purge.Status == HttpStatusCode.OK, purge.Text);
        Assert.True(purge.Json["results_purged"]!.GetValue<int>() >= 1, purge.Text);
        Assert.Null(await Envelope.StoredAsync(fixture.System, "SELECT ref FROM noetl.result_store WHERE ref = $1", shortLived.Json["ref"]!.GetValue<string>()));
        Assert.Equal(2, (await Http.Get($"/api/result/{executionId}/kept")).Json["data"]!["a"]!.GetValue<int>());
    }
}
