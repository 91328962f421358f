using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using NoEtl.Worker.Runtime;
using NoEtl.Worker.Tools;

namespace NoEtl.Worker.Commands;

/// <summary>The claim outcome: the decision, the claimed command (on Run), and the server's Retry-After hint.</summary>
public sealed record ClaimResult(ClaimDecision Decision, JsonObject? Command, int Status, TimeSpan? RetryAfter);

/// <summary>
/// Claims a notified command and runs it with the NoETL worker event sequence:
/// <c>command.started → call.done | call.error → command.completed | command.failed</c>
/// (the server writes <c>command.claimed</c> itself). Event posts are retried; a post that still fails is logged
/// as an error with the execution and command ids, never dropped silently.
/// </summary>
public sealed class CommandRunner(
    ServerClient server,
    ToolExecutor tools,
    WorkerKeychain keychain,
    WorkerOptions options,
    ILogger<CommandRunner> logger)
{
    /// <summary>One claim attempt; NATS redelivery (nak) is the retry loop for claims.</summary>
    public async Task<ClaimResult> ClaimAsync(CommandNotification notification, CancellationToken ct)
    {
        if (!string.IsNullOrWhiteSpace(notification.ServerUrl) && !options.ServerUrls.Contains(notification.ServerUrl.TrimEnd('/')))
        {
            // Never followed: a notification (or the workload behind it) must not choose where the worker's tokens go.
            logger.LogDebug("Event {EventId} names server {NotifiedUrl}; calling the configured {ServerUrls}", notification.EventId, notification.ServerUrl, options.ServerUrls);
        }
        var url = server.Url($"/api/commands/{notification.EventId}/claim");
        try
        {
            // Idempotent: a repeated claim by the holder is answered with the holder's claim.
            var response = await server.SendIdempotentAsync(HttpMethod.Post, url, new JsonObject { ["worker_id"] = options.WorkerId }, ct);
            var decision = ClaimDecisions.FromStatus(response.Status);
            if (decision == ClaimDecision.Run && response.Body is not JsonObject)
            {
                logger.LogWarning("Claim of event {EventId} returned {Status} without a command body; retrying", notification.EventId, response.Status);
                decision = ClaimDecision.Retry;
            }
            return new ClaimResult(decision, response.Body as JsonObject, response.Status, response.RetryAfter);
        }
        catch (HttpRequestException ex)
        {
            logger.LogWarning("Claim of event {EventId} could not reach the server: {Error}", notification.EventId, ex.Message);
            return new ClaimResult(ClaimDecision.Retry, null, 0, null);
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning("Claim of event {EventId} timed out", notification.EventId);
            return new ClaimResult(ClaimDecision.Retry, null, 0, null);
        }
    }

    /// <summary>Runs a claimed command to its terminal event. <paramref name="ct"/> cancels the tool (drain timeout).</summary>
    public async Task RunAsync(CommandNotification notification, JsonObject claim, CancellationToken ct)
    {
        var command = ClaimedCommand.From(notification, claim);
        // A message-template scope: structured properties for log sinks, readable text on the console.
        using var scope = logger.BeginScope("execution_id={execution_id} command_id={command_id} step={step}", command.ExecutionId, command.CommandId, command.Step);
        logger.LogInformation("Running {Kind} command", command.Kind);

        await PostEventAsync(command, "command.started", new JsonObject { ["command_id"] = WorkerJson.IdNode(command.CommandId) });

        ToolOutcome outcome;
        try
        {
            outcome = await tools.ExecuteAsync(command.Kind, command.ToolConfig, command.ToContext(keychain), ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            outcome = ToolOutcome.Failure("command cancelled: worker shut down before it finished", kind: "cancelled", retryable: true);
        }

        if (outcome.Ok)
        {
            await PostEventAsync(command, "call.done", new JsonObject
            {
                ["command_id"] = WorkerJson.IdNode(command.CommandId),
                ["result"] = await CallResultAsync(command, outcome with { Data = keychain.Scrub(outcome.Data?.DeepClone()) }),
            });
            await PostEventAsync(command, "command.completed", new JsonObject
            {
                ["command_id"] = WorkerJson.IdNode(command.CommandId),
                ["result"] = new JsonObject { ["status"] = "COMPLETED" },
            });
            logger.LogInformation("Command completed");
            return;
        }

        var message = keychain.ScrubText(outcome.Error?.Message ?? "tool failed");
        var errorContext = new JsonObject { ["error"] = message };
        if (outcome.Data is not null)
        {
            errorContext["data"] = keychain.Scrub(outcome.Data.DeepClone());
        }
        await PostEventAsync(command, "call.error", new JsonObject
        {
            ["command_id"] = WorkerJson.IdNode(command.CommandId),
            ["error"] = new JsonObject { ["message"] = message, ["kind"] = outcome.Error?.Kind },
            ["result"] = new JsonObject { ["status"] = "FAILED", ["context"] = errorContext },
        });
        await PostEventAsync(command, "command.failed", new JsonObject
        {
            ["command_id"] = WorkerJson.IdNode(command.CommandId),
            ["error"] = message,
        });
        logger.LogWarning("Command failed ({Kind})", outcome.Error?.Kind);
    }

    /// <summary>
    /// {status, context} inline, or {status, reference} when the context is too large to inline; the result store
    /// keeps the tool result itself, so its keys are the stored mapping's.
    /// </summary>
    private async Task<JsonObject> CallResultAsync(ClaimedCommand command, ToolOutcome scrubbed)
    {
        var context = scrubbed.ContextObject();
        var inline = new JsonObject { ["status"] = "COMPLETED", ["context"] = context };
        var size = Encoding.UTF8.GetByteCount(context.ToJsonString());
        if (size <= options.ResultInlineMaxBytes)
        {
            return inline;
        }
        try
        {
            var stored = await server.SendWithRetryAsync(HttpMethod.Put, server.Url($"/api/result/{command.ExecutionId}"), new JsonObject
            {
                ["name"] = command.Step,
                ["data"] = scrubbed.Data?.DeepClone(),
                ["scope"] = "execution",
                ["source_step"] = command.Step,
            }, CancellationToken.None);
            if (stored.IsSuccess && stored.Body is JsonObject reference && reference["ref"] is not null)
            {
                return new JsonObject { ["status"] = "COMPLETED", ["reference"] = reference.DeepClone() };
            }
            logger.LogWarning("Result store refused a {Bytes}-byte result with HTTP {Status}; sending it inline", size, stored.Status);
        }
        catch (HttpRequestException ex)
        {
            logger.LogWarning("Result store unreachable ({Error}); sending a {Bytes}-byte result inline", ex.Message, size);
        }
        return inline;
    }

    private async Task PostEventAsync(ClaimedCommand command, string name, JsonObject payload)
    {
        var meta = new JsonObject
        {
            ["command_id"] = WorkerJson.IdNode(command.CommandId),
            ["worker_id"] = options.WorkerId,
            ["pool"] = options.Pool,
            ["lease_epoch"] = command.LeaseEpoch, // fencing: the server rejects events of a superseded claim
        };
        if (command.LeaseToken is not null)
        {
            // Proves the event comes from the claim holder, not from anyone who can guess the epoch. Never logged.
            meta["lease_token"] = command.LeaseToken;
        }
        var body = new JsonObject
        {
            ["execution_id"] = command.ExecutionId,
            ["step"] = command.Step,
            ["name"] = name,
            ["payload"] = payload,
            ["meta"] = meta,
            ["worker_id"] = options.WorkerId,
        };
        try
        {
            // Not tied to the drain token: a cancelled command must still report its terminal event.
            var response = await server.PostWithRetryAsync(server.Url("/api/events"), body, CancellationToken.None);
            if (!response.IsSuccess)
            {
                logger.LogError("Event {Event} was rejected with HTTP {Status}", name, response.Status);
            }
        }
        catch (HttpRequestException ex)
        {
            logger.LogError("Event {Event} could not be delivered after retries: {Error}", name, ex.Message);
        }
    }
}
