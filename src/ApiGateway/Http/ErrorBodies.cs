using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;

namespace NoEtl.ApiGateway.Http;

/// <summary>
/// The one place that finishes every error body, whoever wrote it (a route, a grain's reply, authentication, the
/// exception handler): a JSON object with <c>detail</c> also gets <c>error</c>, a string (NoETL's GUI reads
/// <c>error</c> on some pages and <c>detail</c> on others), and an error without a body — an unknown route, a method
/// the route does not take — gets FastAPI's <c>{"detail": "Not Found"}</c>. Success responses pass straight through;
/// only error bodies (small) are held until the route is done.
/// </summary>
public static class ErrorBodies
{
    /// <summary>An error body larger than this is passed on as it is (nobody reads a megabyte of error text).</summary>
    private const int MaxRewrittenBytes = 1 << 20;

    public static void UseErrorBodies(this WebApplication app) => app.Use(async (context, next) =>
    {
        var response = context.Response;
        var original = response.Body;
        var capture = new ErrorCapture(response, original);
        response.Body = capture;
        try
        {
            await next(context);
            await capture.FinishAsync(context);
        }
        finally
        {
            response.Body = original;
        }
    });

    /// <summary>The <c>error</c> string for a <c>detail</c>: its text, its message, or the joined field errors.</summary>
    public static string ErrorText(JsonNode? detail) => detail switch
    {
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        JsonObject coded when coded["message"] is JsonValue message && message.GetValueKind() == JsonValueKind.String => message.GetValue<string>(),
        JsonArray errors => string.Join("; ", errors.Select(FieldError)),
        null => "",
        _ => detail.ToJsonString(),
    };

    /// <summary>Adds <c>error</c> to an error document that has <c>detail</c> and no <c>error</c>; null when there is nothing to add.</summary>
    public static byte[]? WithError(ReadOnlySpan<byte> body)
    {
        JsonNode? document;
        try { document = JsonNode.Parse(body); }
        catch (JsonException) { return null; }
        if (document is not JsonObject fields || !fields.ContainsKey("detail") || fields.ContainsKey("error"))
            return null;
        fields["error"] = ErrorText(fields["detail"]);
        return JsonSerializer.SerializeToUtf8Bytes(fields);
    }

    private static string FieldError(JsonNode? error)
    {
        if (error is not JsonObject fields)
            return ErrorText(error);
        var location = fields["loc"] is JsonArray loc ? string.Join('.', loc.Select(part => part?.ToString())) : null;
        var message = fields["msg"] is JsonValue msg && msg.GetValueKind() == JsonValueKind.String ? msg.GetValue<string>() : fields.ToJsonString();
        return string.IsNullOrEmpty(location) ? message : $"{location}: {message}";
    }

    /// <summary>
    /// Decides at the first byte: with an error status the body is held (to be completed at the end), otherwise every
    /// write and flush goes straight to the client, so streams and long polls behave as before.
    /// </summary>
    private sealed class ErrorCapture(HttpResponse response, Stream inner) : Stream
    {
        private MemoryStream? _held;
        private bool _decided;
        private bool _wrote;

        private void Decide()
        {
            if (_decided)
                return;
            _decided = true;
            if (response.StatusCode >= 400)
                _held = new MemoryStream();
        }

        public async Task FinishAsync(HttpContext context)
        {
            if (_held is not null)
            {
                var bytes = WithError(_held.GetBuffer().AsSpan(0, (int)_held.Length)) ?? _held.ToArray();
                if (response.ContentLength is not null)
                    response.ContentLength = bytes.Length;
                _held = null;
                await inner.WriteAsync(bytes, context.RequestAborted);
                return;
            }
            if (!_wrote && !response.HasStarted && response.StatusCode >= 400 && !HttpMethods.IsHead(context.Request.Method)
                && !context.RequestAborted.IsCancellationRequested)
            {
                var reason = ReasonPhrases.GetReasonPhrase(response.StatusCode);
                var body = JsonSerializer.SerializeToUtf8Bytes(new JsonObject { ["detail"] = reason, ["error"] = reason });
                response.ContentType = "application/json";
                response.ContentLength = body.Length;
                await inner.WriteAsync(body, context.RequestAborted);
            }
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (Hold(buffer) is { } released)
                inner.Write(released.GetBuffer(), 0, (int)released.Length);
            else if (_held is null)
                inner.Write(buffer);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Hold(buffer.Span) is { } released)
                await inner.WriteAsync(released.GetBuffer().AsMemory(0, (int)released.Length), cancellationToken);
            else if (_held is null)
                await inner.WriteAsync(buffer, cancellationToken);
        }

        /// <summary>Holds the bytes of an error body; returns what was held once it grew too large to rewrite.</summary>
        private MemoryStream? Hold(ReadOnlySpan<byte> buffer)
        {
            Decide();
            _wrote = true;
            if (_held is null)
                return null;
            _held.Write(buffer);
            if (_held.Length <= MaxRewrittenBytes)
                return null;
            var released = _held;
            _held = null;
            return released;
        }

        // A held body is flushed once, at the end.
        public override void Flush()
        {
            Decide();
            if (_held is null)
                inner.Flush();
        }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Decide();
            return _held is null ? inner.FlushAsync(cancellationToken) : Task.CompletedTask;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
