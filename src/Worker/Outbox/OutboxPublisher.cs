using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NoEtl.Worker.Runtime;

namespace NoEtl.Worker.Outbox;

/// <summary>One claimed outbox row as returned by <c>POST /api/internal/outbox/claim</c>.</summary>
public sealed record OutboxRow(long OutboxId, string? Subject, JsonNode? Payload, int Attempts)
{
    public static OutboxRow? From(JsonNode? node) =>
        node is JsonObject row && WorkerJson.ReadId(row["outbox_id"]) is { } id
            ? new OutboxRow(id, WorkerJson.ReadString(row["subject"]), row["payload"], (int)(WorkerJson.ReadId(row["attempts"]) ?? 1))
            : null;

    /// <summary>De-duplicates a re-publish of the same claim inside the stream's duplicate window.</summary>
    public string MsgId => $"outbox-{OutboxId}-{Attempts}";
}

/// <summary>What one publish pass did, for logs and tests.</summary>
public sealed record OutboxPassResult(int Claimed, IReadOnlyList<long> Published, IReadOnlyList<long> Failed);

/// <summary>
/// System-pool outbox drain over the internal API — the path by which the server's command notifications reach
/// NATS (the server itself never talks to NATS): claim a batch → publish each row's JSON payload to its subject on
/// JetStream and await the ack → mark-published the acked rows in one call; mark-failed each row whose publish
/// failed (the server schedules its retry). At-least-once: a row is marked only after JetStream acknowledged it.
/// </summary>
public sealed class OutboxPublisher(
    NatsConnection nats,
    ServerClient server,
    WorkerOptions options,
    ILogger<OutboxPublisher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await EnsureStreamsAsync(stoppingToken);
        var errorDelay = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan wait;
            try
            {
                var pass = await RunOnceAsync(stoppingToken);
                errorDelay = TimeSpan.FromSeconds(1);
                // Rows found: go again at once; none: the claim's long poll plus a short idle delay paces the loop.
                wait = pass.Claimed == 0 ? options.Outbox.IdleDelay : TimeSpan.Zero;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is OutboxApiException or HttpRequestException or TaskCanceledException)
            {
                logger.LogWarning("Outbox pass failed ({Error}); backing off {Delay}", ex.Message, errorDelay);
                wait = errorDelay;
                errorDelay = TimeSpan.FromTicks(Math.Min(errorDelay.Ticks * 2, options.Outbox.MaxErrorBackoff.Ticks));
            }
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>One claim → publish → mark cycle. Throws <see cref="OutboxApiException"/> when the claim is refused.</summary>
    public async Task<OutboxPassResult> RunOnceAsync(CancellationToken ct)
    {
        var claim = await server.PostAsync(
            server.Url("/api/internal/outbox/claim"),
            new JsonObject { ["limit"] = options.Outbox.BatchSize, ["wait_ms"] = options.Outbox.WaitMs },
            ct);
        if (!claim.IsSuccess)
        {
            throw new OutboxApiException(claim.Status is 403 or 503
                ? $"outbox claim refused with HTTP {claim.Status} (is NOETL_INTERNAL_API_TOKEN set on both sides?)"
                : $"outbox claim returned HTTP {claim.Status}");
        }
        var rows = (claim.Body?["rows"] as JsonArray ?? []).Select(OutboxRow.From).OfType<OutboxRow>().ToList();
        if (rows.Count == 0)
        {
            return new OutboxPassResult(0, [], []);
        }

        var js = new NatsJSContext(nats);
        var outcomes = await Task.WhenAll(rows.Select(row => PublishAsync(js, row, ct)));
        var published = outcomes.Where(o => o.Error is null).Select(o => o.Row.OutboxId).ToList();
        var failed = outcomes.Where(o => o.Error is not null).ToList();

        if (published.Count > 0)
        {
            var ids = new JsonArray([.. published.Select(id => (JsonNode?)JsonValue.Create(id))]);
            var marked = await server.PostWithRetryAsync(server.Url("/api/internal/outbox/mark-published"), new JsonObject { ["outbox_ids"] = ids }, ct);
            if (!marked.IsSuccess)
            {
                // The rows stay IN_FLIGHT; re-publishing them later is the at-least-once price, never a loss.
                logger.LogError("mark-published for {Count} rows returned HTTP {Status}", published.Count, marked.Status);
            }
        }
        foreach (var (row, error) in failed)
        {
            var marked = await server.PostWithRetryAsync(server.Url("/api/internal/outbox/mark-failed"), new JsonObject
            {
                ["outbox_id"] = row.OutboxId,
                ["error"] = error,
                ["attempts"] = Math.Max(1, row.Attempts),
            }, ct);
            if (!marked.IsSuccess)
            {
                logger.LogError("mark-failed for outbox row {OutboxId} returned HTTP {Status}", row.OutboxId, marked.Status);
            }
        }
        logger.LogDebug("Outbox pass: {Claimed} claimed, {Published} published, {Failed} failed", rows.Count, published.Count, failed.Count);
        return new OutboxPassResult(rows.Count, published, [.. failed.Select(f => f.Row.OutboxId)]);
    }

    private static async Task<(OutboxRow Row, string? Error)> PublishAsync(INatsJSContext js, OutboxRow row, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(row.Subject))
        {
            return (row, "outbox row has no subject");
        }
        // The payload goes out as JSON text (a payload stored as a JSON string is sent verbatim).
        var text = row.Payload is JsonValue v && v.TryGetValue(out string? raw) ? raw : row.Payload?.ToJsonString() ?? "null";
        try
        {
            var ack = await js.PublishAsync(row.Subject, Encoding.UTF8.GetBytes(text), opts: new NatsJSPubOpts { MsgId = row.MsgId }, cancellationToken: ct);
            if (!ack.Duplicate)
            {
                ack.EnsureSuccess();
            }
            return (row, null);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            return (row, $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    /// <summary>
    /// Outbox rows carry command notifications (noetl.commands.&lt;pool&gt;.&lt;eid&gt;) and, when mirroring is on, events
    /// (noetl.events.…); both streams must exist or every publish fails until some consumer creates them.
    /// </summary>
    private async Task EnsureStreamsAsync(CancellationToken ct)
    {
        var js = new NatsJSContext(nats);
        try
        {
            await NatsSetup.EnsureCommandStreamAsync(js, options.Nats, ct);
            await NatsSetup.EnsureEventStreamAsync(js, options.Outbox, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Not fatal: a row whose subject no stream captures is marked failed and retried by the server.
            logger.LogWarning("Could not ensure the JetStream streams: {Error}", ex.Message);
        }
    }
}

public sealed class OutboxApiException(string message) : Exception(message);
