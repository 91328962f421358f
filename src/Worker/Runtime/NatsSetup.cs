using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Net;

namespace NoEtl.Worker.Runtime;

/// <summary>NATS connection and JetStream topology, per shared/spec/nats-recipe.md.</summary>
public static class NatsSetup
{
    public static NatsConnection Connect(WorkerOptions options) => new(new NatsOpts
    {
        Url = options.Nats.Url,
        Name = $"noetl-worker-{options.Pool}-{options.WorkerId}",
        // Sends string/byte[] raw and POCOs as JSON; the JSON-everything registry would quote raw payloads.
        SerializerRegistry = NatsClientDefaultSerializerRegistry.Default,
        // Infinite reconnects: a finite count can leave ConsumeAsync hanging (nats.net#855).
        MaxReconnectRetry = -1,
        ReconnectWaitMin = TimeSpan.FromMilliseconds(250),
        ReconnectWaitMax = TimeSpan.FromSeconds(2),
    });

    /// <summary>The command stream: file storage (cannot be changed later), subjects base and base.&gt;.</summary>
    public static Task<INatsJSStream> EnsureCommandStreamAsync(INatsJSContext js, NatsOptions nats, CancellationToken ct) =>
        EnsureStreamAsync(js, new StreamConfig(nats.Stream, [nats.Subject, $"{nats.Subject}.>"])
        {
            Storage = StreamConfigStorage.File,
            Retention = StreamConfigRetention.Limits,
            Discard = StreamConfigDiscard.Old,
            MaxAge = TimeSpan.FromHours(24),
            MaxBytes = 1L << 30,
            MaxMsgSize = 1 << 20,
            DuplicateWindow = TimeSpan.FromMinutes(2),
        }, ct);

    /// <summary>
    /// The pool's durable pull consumer. One FilterSubject only: nats-server 2.9 silently ignores FilterSubjects[].
    /// DeliverPolicy defaults to All so commands published before the pool's first start are not lost (the claim
    /// turns replays of finished commands into 409 drops); NATS_DELIVER_POLICY=new matches the Python worker.
    /// </summary>
    public static ValueTask<INatsJSConsumer> EnsureCommandConsumerAsync(INatsJSContext js, NatsOptions nats, CancellationToken ct) =>
        js.CreateOrUpdateConsumerAsync(nats.Stream, new ConsumerConfig(nats.Consumer)
        {
            FilterSubject = nats.FilterSubject,
            AckPolicy = ConsumerConfigAckPolicy.Explicit,
            DeliverPolicy = nats.DeliverNew ? ConsumerConfigDeliverPolicy.New : ConsumerConfigDeliverPolicy.All,
            AckWait = nats.AckWait,
            MaxDeliver = nats.MaxDeliver,
            MaxAckPending = 1000,
        }, ct);

    /// <summary>The event stream the outbox publishes into (as NoETL's NATSEventPublisher creates it).</summary>
    public static Task<INatsJSStream> EnsureEventStreamAsync(INatsJSContext js, OutboxOptions outbox, CancellationToken ct) =>
        EnsureStreamAsync(js, new StreamConfig(outbox.EventStream, [$"{outbox.EventSubjectPrefix}.>"])
        {
            Storage = StreamConfigStorage.File,
            MaxAge = TimeSpan.FromHours(24),
            DuplicateWindow = TimeSpan.FromMinutes(2),
        }, ct);

    /// <summary>
    /// Creates the stream only when it is missing. An existing stream is left as its owner (usually the server)
    /// configured it: updating it could fail on immutable settings such as storage type.
    /// </summary>
    private static async Task<INatsJSStream> EnsureStreamAsync(INatsJSContext js, StreamConfig config, CancellationToken ct)
    {
        try
        {
            return await js.GetStreamAsync(config.Name!, cancellationToken: ct);
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
            try
            {
                return await js.CreateStreamAsync(config, ct);
            }
            catch (NatsJSApiException race) when (race.Error.ErrCode == 10058)
            {
                // Another worker created it between our get and create.
                return await js.GetStreamAsync(config.Name!, cancellationToken: ct);
            }
        }
    }
}
