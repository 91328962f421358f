using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Playbooks;

public enum NextMode { Exclusive, Inclusive }

public enum LoopMode { Sequential, Parallel }

/// <summary>A routing arc: go to <paramref name="Step"/> when <paramref name="When"/> holds (always when null).</summary>
public sealed record Arc(string Step, string? When, JsonObject? Set);

public sealed record NextSpec(NextMode Mode, IReadOnlyList<Arc> Arcs);

/// <summary><c>loop: {in, iterator, spec: {mode, max_in_flight}}</c>; a null <paramref name="MaxInFlight"/> means unbounded.</summary>
public sealed record LoopSpec(JsonNode? In, string Iterator, LoopMode Mode, int? MaxInFlight);

/// <summary>One validated workflow step.</summary>
public sealed class Step
{
    /// <summary>A single tool's key the worker evaluates against the tool's output; the server passes it on as written.</summary>
    internal const string WorkerRenderedToolKey = "spec";

    /// <summary>Keys of a pipeline task the worker renders itself, between tasks; the server passes them on as written.</summary>
    internal static readonly HashSet<string> WorkerRenderedTaskKeys = ["set", "input", "args", "spec", "command"];

    public const string TaskSequenceKind = "task_sequence";

    /// <summary>The suffix NoETL gives the step name of a task-sequence command.</summary>
    public const string TaskSequenceSuffix = ":task_sequence";

    internal Step(string name, JsonObject raw, JsonNode tool, NextSpec? next, LoopSpec? loop)
    {
        Name = name;
        Raw = raw;
        Tool = tool;
        Next = next;
        Loop = loop;
    }

    public string Name { get; }

    /// <summary>The normalized step mapping as stored in <see cref="Playbook.Document"/>.</summary>
    public JsonObject Raw { get; }

    /// <summary>A tool mapping, or an array of named tool mappings for a pipeline.</summary>
    public JsonNode Tool { get; }

    public bool IsPipeline => Tool is JsonArray;

    /// <summary>
    /// A single tool with <c>spec.policy.rules</c>: NoETL's worker applies task policies only inside task sequences, so the
    /// command is a one-task <c>task_sequence</c> (Python <c>commands.py</c>, "Convert single tool to task sequence format").
    /// </summary>
    public bool IsWrappedTool => Tool is JsonObject single && single["spec"] is JsonObject spec
        && spec["policy"] is JsonObject policy && policy["rules"] is JsonArray { Count: > 0 };

    /// <summary>True when the worker runs the step as a task sequence and reports <c>{status, _prev, results, ctx}</c>.</summary>
    public bool IssuesTaskSequence => IsPipeline || IsWrappedTool;

    public string ToolKind => IssuesTaskSequence ? TaskSequenceKind : (string)Tool["kind"]!;

    /// <summary>The command's step name: <c>&lt;step&gt;:task_sequence</c> for a wrapped single tool, as NoETL names it.</summary>
    public string CommandStep => IsWrappedTool ? Name + TaskSequenceSuffix : Name;

    /// <summary>The label of a wrapped single tool's only task.</summary>
    public string WrappedTaskName => Name + "_task";

    public JsonObject? Input => Raw["input"] as JsonObject;

    public JsonObject? Set => Raw["set"] as JsonObject;

    public JsonObject? Spec => Raw["spec"] as JsonObject;

    public NextSpec? Next { get; }

    public IReadOnlyList<Arc> Arcs => Next?.Arcs ?? [];

    public LoopSpec? Loop { get; }
}
