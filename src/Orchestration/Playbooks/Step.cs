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

    public string ToolKind => Tool is JsonObject single ? (string)single["kind"]! : "task_sequence";

    public JsonObject? Input => Raw["input"] as JsonObject;

    public JsonObject? Set => Raw["set"] as JsonObject;

    public JsonObject? Spec => Raw["spec"] as JsonObject;

    public NextSpec? Next { get; }

    public IReadOnlyList<Arc> Arcs => Next?.Arcs ?? [];

    public LoopSpec? Loop { get; }
}
