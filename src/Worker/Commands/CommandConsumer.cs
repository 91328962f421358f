using System.Runtime.CompilerServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NoEtl.Worker.Runtime;
using NoEtl.Worker.Telemetry;

namespace NoEtl.Worker.Commands;

/// <summary>
/// Pulls command notifications for this pool from JetStream and runs up to WORKER_MAX_CONCURRENT commands at once.
/// Claim 200 → ack then run; 409 → ack (drop); anything else → nak with delay; unparsable → terminate.
/// On shutdown it stops fetching, lets in-flight commands finish for up to the drain timeout, then cancels them.
/// </summary>
public sealed class CommandConsumer(
    NatsConnection nats,
    CommandRunner runner,
    WorkerOptions options,
    ILogger<CommandConsumer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var runCts = new CancellationTokenSource();
        // Stopping cancels fetching at once but in-flight commands only after the drain timeout.
        await using var drain = stoppingToken.Register(() => runCts.CancelAfter(options.DrainTimeout));
        var backoff = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var js = new NatsJSContext(nats);
                await NatsSetup.EnsureCommandStreamAsync(js, options.Nats, stoppingToken);
                var consumer = await NatsSetup.EnsureCommandConsumerAsync(js, options.Nats, stoppingToken);
                logger.LogInformation("Consuming {Filter} as {Consumer} on {Stream} (max {Max} concurrent)",
                    options.Nats.FilterSubject, options.Nats.Consumer, options.Nats.Stream, options.MaxConcurrent);
                backoff = TimeSpan.FromSeconds(1);

                var consumeOpts = new NatsJSConsumeOpts
                {
                    // Small prefetch: the ack-wait clock runs while a message waits in the buffer.
                    MaxMsgs = options.MaxConcurrent * 2,
                    // Short pulls so consumption resumes within seconds after a NATS restart (default 30 s stalls).
                    Expires = TimeSpan.FromSeconds(4),
                    IdleHeartbeat = TimeSpan.FromSeconds(2),
                };
                var messages = UntilStopped(consumer.ConsumeAsync(CommandNotification.Serializer, consumeOpts, stoppingToken), stoppingToken);
                // No ParallelOptions.CancellationToken: cancelling it would cancel in-flight bodies instead of draining them.
                await Parallel.ForEachAsync(messages, new ParallelOptions { MaxDegreeOfParallelism = options.MaxConcurrent },
                    (msg, _) => HandleAsync(msg, runCts.Token));
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                logger.LogError("NATS consumer failed ({Error}); restarting in {Delay}", ex.Message, backoff);
                try
                {
                    await Task.Delay(backoff, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
        logger.LogInformation("Command consumer stopped");
    }

    private async ValueTask HandleAsync(INatsJSMsg<CommandNotification> msg, CancellationToken runToken)
    {
        try
        {
            if (msg.Error is not null || msg.Data is not { EventId: > 0 } notification)
            {
                // A payload that does not parse will never parse: terminate instead of redelivering it.
                logger.LogWarning("Terminating unusable notification on {Subject}: {Error}", msg.Subject, msg.Error?.Message ?? "missing event_id");
                await msg.AckTerminateAsync(cancellationToken: CancellationToken.None);
                return;
            }

            using var span = WorkerTelemetry.StartCommand(notification);
            var claim = await runner.ClaimAsync(notification, runToken);
            switch (claim.Decision)
            {
                case ClaimDecision.Run:
                    try
                    {
                        await msg.AckAsync(cancellationToken: CancellationToken.None);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        // The claim is ours either way: run it. A redelivery will get 409 (or a reclaim) from the server.
                        logger.LogWarning("Ack of event {EventId} failed ({Error}); running the claimed command anyway", notification.EventId, ex.Message);
                    }
                    await runner.RunAsync(notification, claim.Command!, runToken);
                    break;
                case ClaimDecision.Drop:
                    logger.LogDebug("Command event {EventId} already claimed or terminal; dropping", notification.EventId);
                    await msg.AckAsync(cancellationToken: CancellationToken.None);
                    break;
                default:
                    var delay = ClaimDecisions.NakDelay(msg.Metadata?.NumDelivered ?? 1, claim.RetryAfter);
                    logger.LogInformation("Claim of event {EventId} returned {Status}; redelivery in {Delay}", notification.EventId, claim.Status, delay);
                    await msg.NakAsync(new AckOpts { NakDelay = delay }, CancellationToken.None);
                    break;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Ack/nak failures (NATS down) leave the message to the ack-wait redelivery; the claim keeps reruns safe.
            logger.LogError(ex, "Handling a notification failed: {Error}", ex.Message);
        }
    }

    /// <summary>Ends the message stream quietly when stopping, so Parallel.ForEachAsync just waits for in-flight work.</summary>
    private static async IAsyncEnumerable<T> UntilStopped<T>(IAsyncEnumerable<T> source, [EnumeratorCancellation] CancellationToken stoppingToken)
    {
        await using var enumerator = source.GetAsyncEnumerator(stoppingToken);
        while (true)
        {
            try
            {
                if (!await enumerator.MoveNextAsync())
                {
                    yield break;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                yield break;
            }
            yield return enumerator.Current;
        }
    }
}
