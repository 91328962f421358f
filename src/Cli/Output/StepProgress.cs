using System.Text.Json.Nodes;

namespace NoEtl.Cli.Output;

/// <summary>
/// Turns the event stream of a run into per-step progress lines such as <c>[2/5] load ... done (0.3s)</c>.
/// A step starts with its first <c>command.issued</c>/<c>command.claimed</c> and finishes with <c>call.done</c>,
/// <c>call.error</c> or <c>command.failed</c>; later events of a finished step (the worker's tail) are ignored
/// until the step is issued again (loops, retries), which starts it anew under the same number.
/// </summary>
public sealed class StepProgress(int plannedSteps)
{
    private static readonly string[] Spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

    private readonly Dictionary<string, StepState> _steps = [];
    private int _frame;

    /// <summary>The YAML's step count, raised if the server runs more (it may add an implicit <c>end</c> step).</summary>
    public int Total => Math.Max(plannedSteps, _steps.Count);

    /// <summary>The line to print for this event, or null when it does not start or finish a step.</summary>
    public StepLine? Apply(JsonObject e)
    {
        var step = Json.Text(e["node_name"]);
        if (string.IsNullOrEmpty(step))
            return null;
        var time = Json.Time(e["created_at"] ?? e["timestamp"]);
        var type = Json.Text(e["event_type"]);
        switch (type)
        {
            case "command.issued" or "command.claimed":
                if (!_steps.TryGetValue(step, out var state))
                    _steps[step] = state = new StepState(_steps.Count + 1);
                if (state.Running)
                {
                    // The first claim is when work really begins; the issue time includes queueing.
                    if (type == "command.claimed" && !state.Claimed)
                        (state.StartedAt, state.Claimed) = (time ?? state.StartedAt, true);
                    return null;
                }
                (state.Running, state.Claimed, state.StartedAt) = (true, type == "command.claimed", time);
                return new StepLine($"{Prefix(state, step)} ... started", IsStart: true);
            case "call.done":
                return Finish(step, time, "done", null);
            case "call.error" or "command.failed":
                return Finish(step, time, "failed", EventFormatter.ErrorOf(e));
            default:
                return null;
        }
    }

    /// <summary>The live status line for a terminal: a spinner and the steps still running, with their elapsed time.</summary>
    public string LiveLine(DateTimeOffset now)
    {
        var frame = Spinner[_frame++ % Spinner.Length];
        var running = _steps.Where(s => s.Value.Running).OrderBy(s => s.Value.Number).ToList();
        if (running.Count == 0)
            return $"{frame} waiting for the next step";
        var (step, state) = running[0];
        var more = running.Count > 1 ? $" (+{running.Count - 1} more)" : "";
        var elapsed = state.StartedAt is { } start ? $" {Durations.Format(now - start)}" : "";
        return $"{frame} {Prefix(state, step)} ...{elapsed}{more}";
    }

    private StepLine? Finish(string step, DateTimeOffset? time, string outcome, string? error)
    {
        if (!_steps.TryGetValue(step, out var state) || !state.Running)
            return null;
        state.Running = false;
        var took = time is { } end && state.StartedAt is { } start ? $" ({Durations.Format(end - start)})" : "";
        var text = $"{Prefix(state, step)} ... {outcome}{took}";
        return new StepLine(error is null ? text : $"{text}: {error}", IsStart: false);
    }

    private string Prefix(StepState state, string step) => $"[{state.Number}/{Total}] {step}";

    private sealed class StepState(int number)
    {
        public int Number { get; } = number;
        public bool Running { get; set; }
        public bool Claimed { get; set; }
        public DateTimeOffset? StartedAt { get; set; }
    }
}

/// <summary>A progress line; starts are shown by the spinner on a terminal instead of as lines.</summary>
public sealed record StepLine(string Text, bool IsStart);
