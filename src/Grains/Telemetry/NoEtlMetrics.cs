using System.Diagnostics;
using System.Diagnostics.Metrics;
using NoEtl.Grains.Executions;
using NoEtl.Grains.Persistence;

namespace NoEtl.Grains.Telemetry;

/// <summary>
/// The control plane's own series (meter <see cref="MeterName"/>). They are counted from committed turns only, so a
/// turn that rolled back never shows up, and every silo counts the executions it owns: sum over silos for the cluster.
/// Static because the execution log is not resolved from the container and instruments are process-wide anyway.
/// </summary>
public static class NoEtlMetrics
{
    public const string MeterName = "NoEtl.Server";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> EventsAppended =
        Meter.CreateCounter<long>("noetl.events.appended", "{event}", "Rows appended to noetl.event, by event_type");

    private static readonly Counter<long> CommandsIssued =
        Meter.CreateCounter<long>("noetl.commands.issued", "{command}", "Commands issued, by pool and tool_kind");

    private static readonly Counter<long> CommandsClaimed =
        Meter.CreateCounter<long>("noetl.commands.claimed", "{command}", "Commands claimed by a worker, by pool and tool_kind");

    private static readonly Counter<long> CommandsCompleted =
        Meter.CreateCounter<long>("noetl.commands.completed", "{command}", "Commands reported completed, by pool and tool_kind");

    private static readonly Counter<long> CommandsFailed =
        Meter.CreateCounter<long>("noetl.commands.failed", "{command}", "Commands reported failed, by pool and tool_kind");

    private static readonly Histogram<double> IssuedToClaimed = Meter.CreateHistogram<double>(
        "noetl.command.issue_to_claim.duration", "s", "From command.issued to command.claimed, by pool and tool_kind",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] });

    private static readonly Histogram<double> ClaimDuration = Meter.CreateHistogram<double>(
        "noetl.command.claim.duration", "s", "Time the owning execution grain takes to answer a claim",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });

    private static readonly Counter<long> AuditRecordsDropped = Meter.CreateCounter<long>(
        "noetl.audit.dropped", "{record}", "Audit records dropped because the silo's commit queue was full");

    /// <summary>
    /// Counts what one committed turn wrote and tags the current span with the command it touched. Called once per
    /// successful commit, so every series agrees with the log.
    /// </summary>
    public static void TurnCommitted(Turn turn, string pool)
    {
        foreach (var row in turn.Events)
        {
            EventsAppended.Add(1, new KeyValuePair<string, object?>("event_type", row.EventType));
            var counter = row.EventType switch
            {
                "command.claimed" => CommandsClaimed,
                "command.completed" => CommandsCompleted,
                "command.failed" => CommandsFailed,
                _ => null,
            };
            // Worker events carry the command's tool kind as node_type.
            var tags = CommandTags(pool, row.NodeType);
            counter?.Add(1, tags);
            if (row.EventType == "command.claimed" && row.ParentEventId is { } issuedEventId)
                IssuedToClaimed.Record(Math.Max(0, (row.CreatedAt - IssuedAt(issuedEventId)).TotalSeconds), tags);
        }
        foreach (var command in turn.NewCommands)
            CommandsIssued.Add(1, CommandTags(pool, command.ToolKind));
        TagSpan(turn);
    }

    public static void ClaimAnswered(TimeSpan elapsed) => ClaimDuration.Record(elapsed.TotalSeconds);

    public static void AuditDropped(int records) => AuditRecordsDropped.Add(records);

    /// <summary>
    /// The claim row's parent is the command.issued event, whose snowflake id holds the issue time in milliseconds,
    /// so the latency needs neither a lookup nor extra state, and survives a rebuild of the grain on another silo.
    /// </summary>
    private static DateTime IssuedAt(long issuedEventId) =>
        DateTime.UnixEpoch.AddMilliseconds((issuedEventId >> 22) + SnowflakeIds.EpochMs);

    private static TagList CommandTags(string pool, string? toolKind) => new()
    {
        { "pool", pool },
        { "tool_kind", string.IsNullOrEmpty(toolKind) ? "unknown" : toolKind },
    };

    /// <summary>A turn about one command (a claim, a worker event) names it on the grain's span; engine turns may issue several.</summary>
    private static void TagSpan(Turn turn)
    {
        if (Activity.Current is not { IsAllDataRequested: true } span)
            return;
        var commands = turn.Events.Where(e => e.CommandId is not null).Select(e => (Id: e.CommandId!.Value, Step: e.NodeName)).Distinct().ToList();
        if (commands.Count == 1)
        {
            span.SetTag("command_id", commands[0].Id.ToString());
            span.SetTag("step", commands[0].Step);
        }
        else if (commands.Count > 1)
        {
            span.SetTag("command_ids", string.Join(',', commands.Select(c => c.Id)));
        }
    }
}
