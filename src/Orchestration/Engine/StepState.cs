using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Engine;

public enum StepStatus { Pending, Running, Completed, Failed, Skipped }

/// <summary>The folded state of one step. Sequence numbers count applied events, so they order entries and exits.</summary>
public sealed class StepState
{
    internal StepState(string name) => Name = name;

    public string Name { get; }

    public StepStatus Status { get; internal set; }

    /// <summary>Sequence number of the latest entry (step.enter, or command.issued of a plain step); 0 if never entered.</summary>
    public long EnteredAt { get; internal set; }

    /// <summary>Sequence number of the latest completion, failure or skip; 0 if never finished.</summary>
    public long FinishedAt { get; internal set; }

    /// <summary>How many times the step completed; numbers the <c>ctx.updated</c> generations of its <c>set:</c>.</summary>
    public int Completions { get; internal set; }

    /// <summary>The unwrapped user data of the latest completion, kept across re-entry until overwritten.</summary>
    public JsonNode? Result { get; internal set; }

    /// <summary>The stored result envelope of the latest completion (<c>steps.&lt;name&gt;</c> in templates).</summary>
    public JsonNode? Envelope { get; internal set; }

    public string? Error { get; internal set; }

    /// <summary>The current fan-out of a loop step, from its latest <c>step.enter</c>.</summary>
    public LoopRun? Loop { get; internal set; }

    /// <summary>The <c>ctx.updated</c> generation last applied for this step's <c>set:</c>.</summary>
    public int SetGeneration { get; internal set; }

    /// <summary>The completion whose <c>loop.done</c> was last emitted, for loop steps.</summary>
    public int LoopDoneGeneration { get; internal set; }

    public bool IsDone => Status is StepStatus.Completed or StepStatus.Failed or StepStatus.Skipped;

    internal StepState Clone()
    {
        var copy = (StepState)MemberwiseClone();
        copy.Loop = Loop?.Clone();
        return copy;
    }
}

/// <summary>
/// One fan-out of a loop step: the collection, and which iterations were dispatched and finished. The iterations' data
/// stays in the log: a run holds only the data of iterations finished since the owner last called
/// <see cref="ExecutionState.ForgetIterationData"/>, and takes the others from the log when its last iteration finishes.
/// </summary>
public sealed class LoopRun
{
    /// <summary>
    /// What the loop result keeps of the iterations' data, in serialized bytes. NoETL keeps only the last iteration's result;
    /// this engine keeps all of them in index order up to this size (counted in finish order), and null for the iterations past it.
    /// </summary>
    public const int MaxResultBytes = 1_048_576;

    // Data of the iterations finished since the last forget, as UTF-8 JSON in finish order.
    private List<(int Index, byte[] Json)> _held = [];

    internal LoopRun(JsonArray items, string? loopEventId, long enteredEventId)
    {
        Items = items;
        LoopEventId = loopEventId;
        EnteredEventId = enteredEventId;
    }

    public JsonArray Items { get; }

    /// <summary>Identifies this fan-out (<c>iter.loop_event_id</c>); recorded in the loop's <c>step.enter</c>.</summary>
    public string? LoopEventId { get; }

    /// <summary>The event id of the loop's <c>step.enter</c>: this fan-out's iterations are issued after it.</summary>
    public long EnteredEventId { get; }

    public int Total => Items.Count;

    public int Dispatched { get; internal set; }

    public int Finished { get; internal set; }

    public bool Failed { get; internal set; }

    /// <summary>Iterations that failed (a failing iteration fails the loop step once the running ones finish).</summary>
    public int FailedCount { get; internal set; }

    public int InFlight => Dispatched - Finished;

    /// <summary>Finished iterations whose data this run holds (those finished since the last forget).</summary>
    public int HeldResults => _held.Count;

    /// <summary>Succeeded iterations whose data was forgotten: the log hands it back when the loop completes.</summary>
    public int ForgottenResults { get; private set; }

    internal void Record(int index, JsonNode? data) => _held.Add((index, JsonBytes.Of(data)));

    internal void Forget()
    {
        ForgottenResults += _held.Count;
        _held = [];
    }

    /// <summary>
    /// NoETL's loop step result <c>{results, stats: {total, success, failed}}</c> with a <c>context</c> copy: here
    /// <c>results</c> holds every iteration's user data in index order (within <see cref="MaxResultBytes"/>, counted in
    /// finish order). <paramref name="earlier"/> are the forgotten iterations' data in finish order; afterwards the run holds none.
    /// </summary>
    internal JsonObject Result(IEnumerable<(int Index, byte[] Json)> earlier)
    {
        var slots = new byte[]?[Total];
        var seen = new bool[Total];
        var count = 0;
        long bytes = 0;
        foreach (var (index, json) in earlier.Concat(_held))
        {
            if (seen[index])
                continue;
            seen[index] = true;
            count++;
            bytes += json.Length;
            slots[index] = bytes <= MaxResultBytes ? json : null;
        }
        if (count != Total)
            throw new InvalidOperationException($"loop {LoopEventId}: the data of {count} of its {Total} iterations was handed in");
        _held = [];
        return Shape(slots.Select(json => json is null ? null : JsonNode.Parse(json)), Total, FailedCount);
    }

    /// <summary>The result of a loop over an empty collection.</summary>
    internal static JsonObject EmptyResult() => Shape([], 0, 0);

    private static JsonObject Shape(IEnumerable<JsonNode?> results, int total, int failed)
    {
        var shape = new JsonObject
        {
            ["results"] = new JsonArray([.. results]),
            ["stats"] = new JsonObject { ["total"] = total, ["success"] = total - failed, ["failed"] = failed },
        };
        shape["context"] = shape.DeepClone();
        return shape;
    }

    internal LoopRun Clone()
    {
        var copy = (LoopRun)MemberwiseClone();
        copy._held = [.. _held]; // the byte arrays themselves are never changed
        return copy;
    }
}

/// <summary>
/// A finished iteration of a loop as the log holds it: its index and its command's first finishing event
/// (<c>call.done</c>, <c>command.completed</c>, <c>step.exit</c>, <c>call.error</c> or <c>command.failed</c>).
/// </summary>
public sealed record IterationFinish(int Index, LoggedEvent Event);

/// <summary>A running loop whose forgotten iterations' finishing events a call must hand in (<see cref="ExecutionState.LoopsFinishableBy"/>).</summary>
public sealed record LoopFanOut(string Step, long EnteredEventId);

public enum CommandOutcome { Pending, Succeeded, Failed }

/// <summary>A command seen in <c>command.issued</c>; <see cref="IterationIndex"/> is set for loop iterations.</summary>
public sealed record CommandState(long CommandId, string Step, int? IterationIndex)
{
    public CommandOutcome Outcome { get; internal set; }
}
