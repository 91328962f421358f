using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace NoEtl.Worker.Tests;

/// <summary>A recorded request to a fake server.</summary>
public sealed record Recorded(string Method, string Path, string Query, JsonNode? Body, string? Authorization);

/// <summary>A throwaway Kestrel app on 127.0.0.1 (random port) that records every request it serves.</summary>
public sealed class FakeHttp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeHttp(WebApplication app) => _app = app;

    public string Url { get; private set; } = "";

    public ConcurrentQueue<Recorded> Requests { get; } = new();

    public IEnumerable<Recorded> To(string path) => Requests.Where(r => r.Path == path);

    public static async Task<FakeHttp> StartAsync(Action<WebApplication, FakeHttp> map)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var self = new FakeHttp(app);
        app.Use(async (context, next) =>
        {
            context.Request.EnableBuffering();
            JsonNode? body = null;
            if (context.Request.ContentLength is > 0 || context.Request.Headers.ContainsKey("Transfer-Encoding"))
            {
                using var reader = new StreamReader(context.Request.Body, leaveOpen: true);
                var text = await reader.ReadToEndAsync();
                context.Request.Body.Position = 0;
                try
                {
                    body = JsonNode.Parse(text);
                }
                catch (System.Text.Json.JsonException)
                {
                    body = JsonValue.Create(text);
                }
            }
            self.Requests.Enqueue(new Recorded(context.Request.Method, context.Request.Path.Value ?? "", context.Request.QueryString.Value ?? "", body, context.Request.Headers.Authorization.FirstOrDefault()));
            await next(context);
        });
        map(app, self);
        await app.StartAsync();
        self.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return self;
    }

    public static IResult Json(JsonNode node, int status = 200) => Results.Content(node.ToJsonString(), "application/json", statusCode: status);

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
