using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace NoEtl.Worker.Tests;

/// <summary>A fake upstream for http tasks: fixed statuses, a flaky endpoint, echo, and the credentials API.</summary>
public sealed class HttpFixture : IAsyncLifetime
{
    public FakeHttp Server { get; private set; } = null!;

    private readonly ConcurrentDictionary<string, int> _calls = new();

    public int Calls(string key) => _calls.GetValueOrDefault(key);

    public async Task InitializeAsync() => Server = await FakeHttp.StartAsync((app, _) =>
    {
        app.MapGet("/status/{code:int}", (int code) => FakeHttp.Json(new JsonObject { ["code"] = code }, code));
        app.MapGet("/flaky/{key}", (string key, int fails) =>
        {
            var n = _calls.AddOrUpdate(key, 1, (_, c) => c + 1);
            return n <= fails ? FakeHttp.Json(new JsonObject { ["try"] = n }, 503) : FakeHttp.Json(new JsonObject { ["try"] = n, ["ok"] = true });
        });
        app.MapMethods("/echo", ["GET", "POST", "PUT"], async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            var body = await reader.ReadToEndAsync();
            return FakeHttp.Json(new JsonObject
            {
                ["method"] = request.Method,
                ["query"] = request.QueryString.Value,
                ["auth"] = request.Headers.Authorization.FirstOrDefault(),
                ["x_trace"] = request.Headers["X-Trace"].FirstOrDefault(),
                ["content_type"] = request.ContentType,
                ["body"] = body,
            });
        });
        app.MapGet("/text", () => Results.Text("plain words"));
        app.MapGet("/api/credentials/{name}", (string name) => name == "svc"
            ? FakeHttp.Json(new JsonObject { ["name"] = name, ["data"] = new JsonObject { ["access_token"] = "cred-token" } })
            : FakeHttp.Json(new JsonObject { ["detail"] = "Credential not found" }, 404));
    });

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
