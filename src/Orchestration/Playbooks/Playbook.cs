using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Playbooks;

public sealed record PlaybookParseResult(Playbook? Playbook, IReadOnlyList<PlaybookError> Errors)
{
    public bool IsValid => Playbook is not null;
}

/// <summary>A validated playbook (noetl.io/v2). Build one with <see cref="Parse"/>.</summary>
public sealed class Playbook
{
    public const string EndStep = "end";

    private readonly Dictionary<string, Step> _byName;
    private readonly Dictionary<string, int> _indexByName;

    private Playbook(JsonObject document, IReadOnlyList<Step> steps, string entryStep)
    {
        EntryStep = entryStep;
        Document = document;
        Steps = steps;
        _byName = steps.ToDictionary(s => s.Name, StringComparer.Ordinal);
        _indexByName = steps.Select((s, i) => (s.Name, i)).ToDictionary(p => p.Name, p => p.i, StringComparer.Ordinal);
        var metadata = (JsonObject)document["metadata"]!;
        Name = (string)metadata["name"]!;
        Path = metadata["path"] is JsonValue path && path.TryGetValue<string>(out var p) && p.Length > 0 ? p : Name;
        Workload = document["workload"] as JsonObject ?? [];
        Keychain = document["keychain"] as JsonArray;
    }

    public string Name { get; }

    /// <summary><c>metadata.path</c>, falling back to <c>metadata.name</c>.</summary>
    public string Path { get; }

    public JsonObject Workload { get; }

    public JsonArray? Keychain { get; }

    public IReadOnlyList<Step> Steps { get; }

    /// <summary>Where an execution begins (Python <c>get_entry_step</c>): <c>executor.spec.entry_step</c>, else the first step.</summary>
    public string EntryStep { get; }

    /// <summary>The normalized document to store: workbook references resolved, <c>next</c> in canonical form.</summary>
    public JsonObject Document { get; }

    public Step? FindStep(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The position of step <paramref name="name"/> in the workflow.</summary>
    internal int IndexOf(string name) => _indexByName[name];

    /// <summary>True when <paramref name="target"/> is the implicit end sentinel (an <c>end</c> arc with no <c>end</c> step).</summary>
    public bool IsImplicitEnd(string target) => target == EndStep && !_byName.ContainsKey(EndStep);

    /// <summary>Validates <paramref name="document"/>, listing every problem found. The input is not modified.</summary>
    public static PlaybookParseResult Parse(JsonObject document, PlaybookLimits? limits = null)
    {
        var parser = new PlaybookParser((JsonObject)document.DeepClone(), limits ?? PlaybookLimits.Default);
        var steps = parser.Run();
        return parser.Errors.Count > 0
            ? new PlaybookParseResult(null, parser.Errors)
            : new PlaybookParseResult(new Playbook(parser.Document, steps, parser.EntryStep ?? steps[0].Name), []);
    }
}
