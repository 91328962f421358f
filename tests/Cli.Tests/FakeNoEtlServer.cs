using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace NoEtl.Cli.Tests;

public sealed record RecordedRequest(string Method, string Path, IQueryCollection Query, string Body, string? Authorization)
{
    public JsonObject Json => JsonNode.Parse(Body)!.AsObject();
}

/// <summary>A Kestrel app on 127.0.0.1 that answers with canned NoETL documents and records every request.</summary>
public sealed class FakeNoEtlServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<RecordedRequest> _requests = [];

    private FakeNoEtlServer(WebApplication app) => _app = app;

    public string Url { get; private set; } = "";

    /// <summary>Answers a request with (status, JSON body); replace per test.</summary>
    public Func<RecordedRequest, (int Status, string Body)> Handler { get; set; } = _ => (404, """{"detail":"Not Found"}""");

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_requests)
                return [.. _requests];
        }
    }

    public static async Task<FakeNoEtlServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new FakeNoEtlServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return server;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var body = await new StreamReader(context.Request.Body).ReadToEndAsync();
        var request = new RecordedRequest(context.Request.Method, context.Request.Path, context.Request.Query, body,
            context.Request.Headers.Authorization.FirstOrDefault());
        lock (_requests)
            _requests.Add(request);
        var (status, reply) = Handler(request);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(reply);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
