using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.JetStream;
using NoEtl.Worker.Outbox;
using NoEtl.Worker.Runtime;

namespace NoEtl.Worker.Tests;

[Collection("nats")]
public class OutboxPublisherTests(NatsFixture nats)
{
    [Fact]
    public async Task Marks_published_only_after_the_jetstream_ack_and_marks_failed_on_publish_errors()
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        var options = TestKit.Options("", token: "svc-token");
        options.Outbox.EventStream = $"TEST_EVENTS_{id}";
        options.Outbox.EventSubjectPrefix = $"t{id}.events";
        var subject = $"t{id}.events.default.default.77.1";
        var js = new NatsJSContext(nats.Connection);
        await NatsSetup.EnsureEventStreamAsync(js, options.Outbox, CancellationToken.None);

        var claims = 0;
        long? messagesInStreamWhenMarked = null;
        await using var server = await FakeHttp.StartAsync((app, _) =>
        {
            app.MapPost("/api/internal/outbox/claim", (HttpRequest request) =>
            {
                if (request.Headers.Authorization != "Bearer svc-token")
                {
                    return FakeHttp.Json(new JsonObject { ["detail"] = "Invalid service-account token" }, 403);
                }
                var rows = Interlocked.Increment(ref claims) == 1
                    ? JsonNode.Parse($$"""
                        [{"outbox_id": 1, "event_id": 501, "execution_id": 77, "subject": "{{subject}}", "payload": {"event_id": 501, "event_type": "call.done"}, "payload_codec": "json", "attempts": 1},
                         {"outbox_id": 2, "event_id": 502, "execution_id": 77, "subject": "nostream{{id}}.x", "payload": {"event_id": 502}, "payload_codec": "json", "attempts": 3}]
                        """)!
                    : new JsonArray();
                return FakeHttp.Json(new JsonObject { ["rows"] = rows, ["claimed"] = rows.AsArray().Count });
            });
            app.MapPost("/api/internal/outbox/mark-published", async () =>
            {
                // Proof of ordering: the row is already stored in JetStream when the server hears about it.
                var stream = await js.GetStreamAsync(options.Outbox.EventStream);
                messagesInStreamWhenMarked = (long)stream.Info.State.Messages;
                return FakeHttp.Json(new JsonObject { ["marked"] = 1 });
            });
            app.MapPost("/api/internal/outbox/mark-failed", () => FakeHttp.Json(new JsonObject { ["marked"] = true, ["available_at_in"] = 4 }));
        });
        options.ServerUrls = [server.Url];
        var publisher = new OutboxPublisher(nats.Connection, TestKit.Server(options), options, NullLogger<OutboxPublisher>.Instance);

        var pass = await publisher.RunOnceAsync(CancellationToken.None);

        Assert.Equal(2, pass.Claimed);
        Assert.Equal([1L], pass.Published);
        Assert.Equal([2L], pass.Failed);
        Assert.Equal(1, messagesInStreamWhenMarked);
        Assert.Equal("""{"outbox_ids":[1]}""", server.To("/api/internal/outbox/mark-published").Single().Body!.ToJsonString());
        var failed = server.To("/api/internal/outbox/mark-failed").Single().Body!;
        Assert.Equal(2, failed["outbox_id"]!.GetValue<long>());
        Assert.Equal(3, failed["attempts"]!.GetValue<long>());
        Assert.False(string.IsNullOrEmpty(failed["error"]!.GetValue<string>()));
        Assert.All(server.Requests, r => Assert.Equal("Bearer svc-token", r.Authorization));
        Assert.Equal("""{"limit":100,"wait_ms":5000}""", server.To("/api/internal/outbox/claim").First().Body!.ToJsonString());

        // The stored message is the row's JSON payload, de-duplicated by its outbox MsgId.
        var consumer = await js.CreateOrderedConsumerAsync(options.Outbox.EventStream);
        var message = await consumer.NextAsync<byte[]>();
        Assert.NotNull(message);
        Assert.Equal(subject, message.Subject);
        Assert.Equal("""{"event_id":501,"event_type":"call.done"}""", Encoding.UTF8.GetString(message.Data!));
        Assert.Equal("outbox-1-1", message.Headers!["Nats-Msg-Id"].ToString());

        var idle = await publisher.RunOnceAsync(CancellationToken.None);
        Assert.Equal(0, idle.Claimed);
        Assert.Single(server.To("/api/internal/outbox/mark-published"));
        await js.DeleteStreamAsync(options.Outbox.EventStream);
    }

    [Fact]
    public async Task A_refused_claim_is_an_error_the_loop_backs_off_on()
    {
        await using var server = await FakeHttp.StartAsync((app, _) =>
            app.MapPost("/api/internal/outbox/claim", () => FakeHttp.Json(new JsonObject { ["detail"] = "Internal API requires Authorization header" }, 403)));
        var options = TestKit.Options(server.Url);
        var publisher = new OutboxPublisher(nats.Connection, TestKit.Server(options), options, NullLogger<OutboxPublisher>.Instance);
        var error = await Assert.ThrowsAsync<OutboxApiException>(() => publisher.RunOnceAsync(CancellationToken.None));
        Assert.Contains("403", error.Message);
    }
}
