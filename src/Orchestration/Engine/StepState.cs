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

/// <summary>One fan-out of a loop step: the collection, and which iterations were dispatched and finished.</summary>
public sealed class LoopRun
{
    /// <summary>
    /// What the loop result keeps of the iterations' data, in serialized bytes. NoETL keeps only the last iteration's result;
    /// this engine keeps all of them in index order up to this size, and null for the iterations past it.
    /// </summary>
    public const int MaxResultBytes = 1_048_576;

    // Each iteration's data as UTF-8 JSON by index (null: unfinished, failed or past MaxResultBytes): as node trees they
    // were about 800 B per finished iteration of a long loop (docs/benchmarks.md, "Memory per execution").
    private byte[]?[] _results;
    private long _resultBytes;

    internal LoopRun(JsonArray items, string? loopEventId)
    {
        Items = items;
        LoopEventId = loopEventId;
        _results = new byte[]?[items.Count];
    }

    public JsonArray Items { get; }

    /// <summary>Identifies this fan-out (<c>iter.loop_event_id</c>); recorded in the loop's <c>step.enter</c>.</summary>
    public string? LoopEventId { get; }

    public int Total => Items.Count;

    public int Dispatched { get; internal set; }

    public int Finished { get; internal set; }

    public bool Failed { get; internal set; }

    /// <summary>Iterations that failed (a failing iteration fails the loop step once the running ones finish).</summary>
    public int FailedCount { get; internal set; }

    public int InFlight => Dispatched - Finished;

    internal void Record(int index, JsonNode? data)
    {
        var json = JsonBytes.Of(data);
        _resultBytes += json.Length;
        _results[index] = _resultBytes <= MaxResultBytes ? json : null;
    }

    /// <summary>
    /// NoETL's loop step result <c>{results, stats: {total, success, failed}}</c> with a <c>context</c> copy: here
    /// <c>results</c> holds every iteration's user data in index order (within <see cref="MaxResultBytes"/>).
    /// </summary>
    internal JsonObject Result()
    {
        var shape = new JsonObject
        {
            ["results"] = new JsonArray([.. _results.Select(json => json is null ? null : JsonNode.Parse(json))]),
            ["stats"] = new JsonObject { ["total"] = Total, ["success"] = Total - FailedCount, ["failed"] = FailedCount },
        };
        shape["context"] = shape.DeepClone();
        return shape;
    }

    internal LoopRun Clone()
    {
        var copy = (LoopRun)MemberwiseClone();
        copy._results = (byte[]?[])_results.Clone(); // the arrays themselves are never changed
        return copy;
    }
}

public enum CommandOutcome { Pending, Succeeded, Failed }

/// <summary>A command seen in <c>command.issued</c>; <see cref="IterationIndex"/> is set for loop iterations.</summary>
public sealed record CommandState(long CommandId, string Step, int? IterationIndex)
{
    public CommandOutcome Outcome { get; internal set; }
}
