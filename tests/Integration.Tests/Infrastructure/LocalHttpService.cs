using System.Net;
using System.Text;

namespace NoEtl.Integration.Tests.Infrastructure;

/// <summary>
/// A small HTTP service on 127.0.0.1 that playbooks call (the outside world of a test): each request is answered
/// by <c>respond</c> with a status and a JSON body.
/// </summary>
public sealed class LocalHttpService : IDisposable
{
    private readonly HttpListener _listener = new();
    private int _requests;

    public LocalHttpService(string path, Func<HttpListenerRequest, int, (int Status, string Json)> respond)
    {
        var port = ProcessHost.FreePort();
        Url = $"http://127.0.0.1:{port}{path}";
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _ = Task.Run(async () =>
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try { context = await _listener.GetContextAsync(); }
                catch (Exception) { return; }
                var (status, json) = respond(context.Request, Interlocked.Increment(ref _requests));
                context.Response.StatusCode = status;
                context.Response.ContentType = "application/json";
                await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(json));
                context.Response.Close();
            }
        });
    }

    public string Url { get; }

    public int Requests => _requests;

    public void Dispose() => _listener.Close();
}
