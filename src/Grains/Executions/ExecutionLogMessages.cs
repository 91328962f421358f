using Microsoft.Extensions.Logging;

namespace NoEtl.Grains.Executions;

/// <summary>What an execution's grain logs (category <see cref="ExecutionGrain"/>); identifiers from requests arrive escaped.</summary>
internal static partial class ExecutionLogMessages
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId} started from {Path} v{Version} with {Commands} command(s)")]
    public static partial void Started(ILogger logger, long executionId, string path, int version, int commands);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Execution {ExecutionId} rebuilt from {Events} events and {Commands} commands")]
    public static partial void Rebuilt(ILogger logger, long executionId, int events, int commands);

    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId}: command {CommandId} reclaimed by {WorkerId} from {PreviousWorker} ({Reason})")]
    public static partial void Reclaimed(ILogger logger, long executionId, long commandId, string workerId, string? previousWorker, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId}: keychain entries not resolved at execute time: {Names}")]
    public static partial void KeychainSkipped(ILogger logger, long executionId, string names);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId}: writer epoch {Epoch} was superseded by another activation; its turn was refused and this activation deactivates")]
    public static partial void Superseded(ILogger logger, long executionId, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId}: commit failed; the activation will be rebuilt from the log")]
    public static partial void CommitFailed(ILogger logger, Exception exception, long executionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId} cancelled ({Count} including children)")]
    public static partial void Cancelled(ILogger logger, long executionId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId}: cancelling its children failed; retrying until every child is terminal")]
    public static partial void CascadeFailed(ILogger logger, Exception exception, long executionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Execution {ExecutionId}: command {CommandId} notified again ({Reason})")]
    public static partial void Renotified(ILogger logger, long executionId, long commandId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Execution {ExecutionId}: commands in flight for long, reminder registered")]
    public static partial void ReminderRegistered(ILogger logger, long executionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId}: reminder not registered; the next sweep retries")]
    public static partial void ReminderNotRegistered(ILogger logger, Exception exception, long executionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Execution {ExecutionId}: reminder not removed; the next tick retries")]
    public static partial void ReminderNotRemoved(ILogger logger, Exception exception, long executionId);
}
