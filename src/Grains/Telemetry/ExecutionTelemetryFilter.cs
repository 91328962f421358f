using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace NoEtl.Grains.Telemetry;

/// <summary>
/// Puts <c>execution_id</c> on every log line and span of an execution grain's turn, and times claims. A filter
/// rather than code in each grain method, so no turn can forget it. Filters run in registration order: register it
/// after <c>AddActivityPropagation()</c>, so that <see cref="Activity.Current"/> is the grain call's own span.
/// </summary>
public sealed class ExecutionTelemetryFilter(ILogger<ExecutionTelemetryFilter> logger) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.Grain is not IExecutionGrain execution)
        {
            await context.Invoke();
            return;
        }

        var executionId = execution.GetPrimaryKeyLong().ToString();
        Activity.Current?.SetTag("execution_id", executionId);
        // A message-template scope: a structured property for JSON logs, readable text on the console.
        using var scope = logger.BeginScope("execution_id={execution_id}", executionId);
        if (context.InterfaceMethod.Name != nameof(IExecutionGrain.Claim))
        {
            await context.Invoke();
            return;
        }

        var started = Stopwatch.GetTimestamp();
        try
        {
            await context.Invoke();
        }
        finally
        {
            NoEtlMetrics.ClaimAnswered(Stopwatch.GetElapsedTime(started));
        }
    }
}
