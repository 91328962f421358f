using System.Collections.Concurrent;
using System.Net;

namespace NoEtl.Integration.Tests.Infrastructure;

/// <summary>One span as an OTLP exporter sent it, with its resource's <c>service.name</c> and its instrumentation scope.</summary>
public sealed record ReceivedSpan(
    string Service, string Scope, string TraceId, string SpanId, string ParentSpanId, string Name, int Kind,
    IReadOnlyDictionary<string, string> Attributes)
{
    public const int ServerKind = 2;
}

/// <summary>
/// A collector stand-in on 127.0.0.1: accepts OTLP/HTTP protobuf at <c>/v1/traces</c> (the .NET exporter speaks
/// protobuf or gRPC, not JSON) and decodes just the fields tests look at, with a minimal protobuf reader.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;

    public OtlpReceiver()
    {
        var port = ProcessHost.FreePort();
        Url = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Url + "/");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public string Url { get; }

    public ConcurrentQueue<ReceivedSpan> Spans { get; } = new();

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            if (context.Request.Url?.AbsolutePath == "/v1/traces")
                foreach (var span in Decode(body.ToArray()))
                    Spans.Enqueue(span);
            // An empty ExportTraceServiceResponse: everything accepted.
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    /// <summary>ExportTraceServiceRequest → resource_spans(1) → {resource(1) → attributes(1), scope_spans(2) → {scope(1) → name(1), spans(2)}}.</summary>
    private static IEnumerable<ReceivedSpan> Decode(byte[] request)
    {
        foreach (var (field, resourceSpans) in Fields(request))
        {
            if (field != 1)
                continue;
            var service = "";
            var scopes = new List<byte[]>();
            foreach (var (f, value) in Fields(resourceSpans))
            {
                if (f == 1)
                    service = Attributes(value, attributeField: 1).GetValueOrDefault("service.name", "");
                else if (f == 2)
                    scopes.Add(value);
            }
            foreach (var scopeSpans in scopes)
            {
                var scope = "";
                var spans = new List<byte[]>();
                foreach (var (f, value) in Fields(scopeSpans))
                {
                    if (f == 1)
                        scope = Fields(value).Where(s => s.Field == 1).Select(s => Text(s.Value)).FirstOrDefault() ?? "";
                    else if (f == 2)
                        spans.Add(value);
                }
                foreach (var span in spans)
                    yield return Span(service, scope, span);
            }
        }
    }

    /// <summary>Span: trace_id(1), span_id(2), parent_span_id(4), name(5), kind(6, varint), attributes(9).</summary>
    private static ReceivedSpan Span(string service, string scope, byte[] span)
    {
        string traceId = "", spanId = "", parent = "", name = "";
        var kind = 0;
        foreach (var (field, value) in Fields(span))
        {
            switch (field)
            {
                case 1: traceId = Convert.ToHexStringLower(value); break;
                case 2: spanId = Convert.ToHexStringLower(value); break;
                case 4: parent = Convert.ToHexStringLower(value); break;
                case 5: name = Text(value); break;
                case 6: kind = (int)Varint(value, 0).Value; break;
            }
        }
        return new ReceivedSpan(service, scope, traceId, spanId, parent, name, kind, Attributes(span, attributeField: 9));
    }

    /// <summary>KeyValue: key(1), value(2) = AnyValue{string(1), bool(2), int(3), double(4)}, rendered as text.</summary>
    private static Dictionary<string, string> Attributes(byte[] message, int attributeField)
    {
        var attributes = new Dictionary<string, string>();
        foreach (var (field, keyValue) in Fields(message))
        {
            if (field != attributeField)
                continue;
            string key = "", text = "";
            foreach (var (f, value) in Fields(keyValue))
            {
                if (f == 1)
                    key = Text(value);
                else if (f == 2)
                    foreach (var (kind, any) in Fields(value))
                        text = kind switch
                        {
                            1 => Text(any),
                            2 or 3 => Varint(any, 0).Value.ToString(),
                            4 => BitConverter.ToDouble(any).ToString(System.Globalization.CultureInfo.InvariantCulture),
                            _ => text,
                        };
            }
            attributes[key] = text;
        }
        return attributes;
    }

    /// <summary>The fields of one protobuf message; varints and fixed values come back as their raw bytes.</summary>
    private static List<(int Field, byte[] Value)> Fields(byte[] message)
    {
        var fields = new List<(int, byte[])>();
        var position = 0;
        while (position < message.Length)
        {
            var (tag, next) = Varint(message, position);
            position = next;
            var start = position;
            switch ((int)(tag & 7))
            {
                case 0: position = Varint(message, position).Next; break;
                case 1: position += 8; break;
                case 2:
                    var (length, afterLength) = Varint(message, position);
                    start = afterLength;
                    position = afterLength + (int)length;
                    break;
                case 5: position += 4; break;
                default: throw new InvalidDataException($"unsupported protobuf wire type {tag & 7}");
            }
            fields.Add(((int)(tag >> 3), message[start..position]));
        }
        return fields;
    }

    private static (ulong Value, int Next) Varint(byte[] buffer, int position)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = buffer[position++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
                return (value, position);
        }
    }

    private static string Text(byte[] value) => System.Text.Encoding.UTF8.GetString(value);

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _loop;
    }
}
