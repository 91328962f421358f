using System.Text.Json;
using System.Text.Json.Nodes;
using NoEtl.Orchestration.Templates;

namespace NoEtl.Orchestration.Playbooks;

/// <summary>Validates and normalizes a playbook document in place, collecting every error rather than stopping at the first.</summary>
internal sealed class PlaybookParser(JsonObject document, PlaybookLimits limits)
{
    private readonly List<PlaybookError> _errors = [];
    private Dictionary<string, JsonObject> _workbook = [];

    public JsonObject Document { get; } = document;

    public IReadOnlyList<PlaybookError> Errors => _errors;

    /// <summary><c>executor.spec.entry_step</c> when the playbook names one; null means the first step.</summary>
    public string? EntryStep { get; private set; }

    public List<Step> Run()
    {
        CheckHeader();
        _workbook = ReadWorkbook();
        if (Document["workflow"] is not JsonArray { Count: > 0 } workflow)
        {
            Error("workflow", "workflow must be a non-empty list of steps");
            return [];
        }
        if (workflow.Count > limits.MaxSteps)
        {
            Error("workflow", $"workflow has {workflow.Count} steps, more than the limit of {limits.MaxSteps}");
            return [];
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var rawSteps = new List<(string Path, string Name, JsonObject Raw)>();
        for (var i = 0; i < workflow.Count; i++)
        {
            var path = $"workflow[{i}]";
            if (workflow[i] is not JsonObject raw)
            {
                Error(path, "a step must be a mapping");
                continue;
            }
            if (!TryString(raw["step"], out var name) || name.Length == 0)
            {
                Error($"{path}.step", "step name is required");
                continue;
            }
            if (!names.Add(name))
                Error($"{path}.step", $"duplicate step name '{name}'");
            rawSteps.Add((path, name, raw));
        }
        ReadEntryStep(names);

        var steps = new List<Step>();
        foreach (var (path, name, raw) in rawSteps)
        {
            if (ParseStep(path, name, raw, names) is { } step)
            {
                CheckTemplates(path, step);
                steps.Add(step);
            }
        }
        var arcs = steps.Sum(s => s.Arcs.Count);
        if (arcs > limits.MaxArcs)
            Error("workflow", $"workflow has {arcs} arcs, more than the limit of {limits.MaxArcs}");
        return steps;
    }

    private void CheckHeader()
    {
        if (!TryString(Document["apiVersion"], out var apiVersion))
            Error("apiVersion", "apiVersion is required and must be 'noetl.io/v2'");
        else if (apiVersion != "noetl.io/v2")
            Error("apiVersion", $"unsupported apiVersion '{apiVersion}', expected 'noetl.io/v2'");

        if (!TryString(Document["kind"], out var kind))
            Error("kind", "kind is required and must be 'Playbook'");
        else if (kind != "Playbook")
            Error("kind", $"unsupported kind '{kind}', expected 'Playbook'");

        if (Document["metadata"] is not JsonObject metadata)
            Error("metadata", "metadata is required and must be a mapping");
        else if (!TryString(metadata["name"], out var name) || name.Length == 0)
            Error("metadata.name", "metadata.name is required");

        if (Document.ContainsKey("workload") && Document["workload"] is not (JsonObject or null))
            Error("workload", "workload must be a mapping");
        if (Document.ContainsKey("keychain") && Document["keychain"] is not (JsonArray or null))
            Error("keychain", "keychain must be a list");
    }

    /// <summary>Python's <c>executor.spec.entry_step</c>: optional, and when given it must name a step.</summary>
    private void ReadEntryStep(HashSet<string> names)
    {
        var node = (Document["executor"] as JsonObject)?["spec"] is JsonObject spec ? spec["entry_step"] : null;
        if (Document["executor"] is not (null or JsonObject))
            Error("executor", "executor must be a mapping");
        if (node is null)
            return;
        if (!TryString(node, out var entry) || entry.Length == 0)
            Error("executor.spec.entry_step", "executor.spec.entry_step must be a step name");
        else if (!names.Contains(entry))
            Error("executor.spec.entry_step", $"entry step '{entry}' is not a step in the workflow");
        else
            EntryStep = entry;
    }

    private Dictionary<string, JsonObject> ReadWorkbook()
    {
        var result = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        if (Document["workbook"] is null)
            return result;
        if (Document["workbook"] is not JsonArray entries)
        {
            Error("workbook", "workbook must be a list of tasks");
            return result;
        }
        for (var i = 0; i < entries.Count; i++)
        {
            var path = $"workbook[{i}]";
            if (entries[i] is not JsonObject entry || !TryString(entry["name"], out var name) || name.Length == 0)
            {
                Error(path, "a workbook task needs a name");
                continue;
            }
            // Both {name, tool: {...}} and the flat {name, kind, ...} forms are in use.
            JsonObject? tool = entry["tool"] as JsonObject;
            if (tool is null && entry.ContainsKey("kind"))
            {
                tool = (JsonObject)entry.DeepClone();
                tool.Remove("name");
            }
            if (tool is null || !TryString(tool["kind"], out _))
                Error(path, $"workbook task '{name}' needs a tool with a kind");
            else if (!result.TryAdd(name, tool))
                Error($"{path}.name", $"duplicate workbook task '{name}'");
        }
        return result;
    }

    private Step? ParseStep(string path, string name, JsonObject raw, HashSet<string> names)
    {
        var errorsBefore = _errors.Count;
        if (raw.ContainsKey("case"))
            Error($"{path}.case", "'case' blocks are not supported; use next: {arcs: [{step, when}]} instead");
        if (raw.ContainsKey("when"))
            Error($"{path}.when", "step-level 'when' is not supported; put the condition on the incoming arc");
        foreach (var key in new[] { "input", "set", "spec" })
        {
            if (raw[key] is not (null or JsonObject))
                Error($"{path}.{key}", $"{key} must be a mapping");
        }

        var tool = ParseTool($"{path}.tool", raw);
        var next = ParseNext($"{path}.next", raw, names);
        var loop = ParseLoop($"{path}.loop", raw["loop"]);
        if (_errors.Count > errorsBefore || tool is null)
            return null;
        return new Step(name, raw, tool, next, loop);
    }

    private JsonNode? ParseTool(string path, JsonObject step)
    {
        switch (step["tool"])
        {
            case null:
                Error(path, "tool is required");
                return null;
            case JsonObject single:
                var resolved = ResolveWorkbook(path, single);
                if (resolved is not null)
                    step["tool"] = resolved;
                return resolved;
            case JsonArray { Count: > 0 } pipeline:
                var tasks = new JsonArray();
                for (var i = 0; i < pipeline.Count; i++)
                {
                    if (NormalizePipelineItem($"{path}[{i}]", pipeline[i]) is { } task)
                        tasks.Add(task);
                }
                step["tool"] = tasks;
                return tasks;
            default:
                Error(path, "tool must be a mapping with a kind, or a non-empty list of named tools");
                return null;
        }
    }

    /// <summary>Accepts <c>{name: label, kind, ...}</c>, an unnamed <c>{kind, ...}</c> and the nested <c>{label: {kind, ...}}</c> form.</summary>
    private JsonObject? NormalizePipelineItem(string path, JsonNode? item)
    {
        if (item is not JsonObject task)
        {
            Error(path, "a pipeline item must be a mapping");
            return null;
        }
        string? label;
        if (task.Count == 1 && !task.ContainsKey("kind") && task.First().Value is JsonObject nested)
        {
            label = task.First().Key;
            task = (JsonObject)nested.DeepClone();
        }
        else
        {
            task = (JsonObject)task.DeepClone();
            label = TryString(task["name"], out var name) ? name : null;
        }
        var resolved = ResolveWorkbook(path, task);
        if (resolved is not null && label is not null)
            resolved["name"] = label;
        return resolved;
    }

    /// <summary>Substitutes <c>{kind: workbook, name: X, input}</c> with task X; the reference's input wins over the task's.</summary>
    private JsonObject? ResolveWorkbook(string path, JsonObject tool)
    {
        if (!TryString(tool["kind"], out var kind) || kind.Length == 0)
        {
            Error($"{path}.kind", "tool kind is required");
            return null;
        }
        if (kind != "workbook")
            return tool;
        if (!TryString(tool["name"], out var taskName) || !_workbook.TryGetValue(taskName, out var task))
        {
            Error($"{path}.name", $"unknown workbook task '{tool["name"]}'");
            return null;
        }
        var resolved = (JsonObject)task.DeepClone();
        if (InputOf(tool) is { } overrides)
        {
            var input = InputOf(resolved) is { } baseInput ? (JsonObject)baseInput.DeepClone() : [];
            foreach (var (key, value) in overrides)
                input[key] = value?.DeepClone();
            resolved.Remove("args");
            resolved["input"] = input;
        }
        foreach (var (key, value) in tool)
        {
            if (key is not ("kind" or "name" or "input" or "args") && !resolved.ContainsKey(key))
                resolved[key] = value?.DeepClone();
        }
        return resolved;
    }

    private static JsonObject? InputOf(JsonObject tool) => tool["input"] as JsonObject ?? tool["args"] as JsonObject;

    private NextSpec? ParseNext(string path, JsonObject step, HashSet<string> names)
    {
        var node = step["next"];
        if (node is null)
            return null;
        var mode = NextMode.Exclusive;
        var modePath = $"{path}.spec.mode";
        JsonNode? modeNode = (step["spec"] as JsonObject)?["next_mode"];
        var arcs = new List<Arc>();
        switch (node)
        {
            case JsonValue value when TryString(value, out var single):
                arcs.Add(new Arc(single, null, null));
                break;
            case JsonArray list:
                // A plain list of names takes every target (Rust legacy form); a list of arcs keeps the exclusive default.
                if (list.Count > 0 && list.All(item => item is JsonValue && TryString(item, out _)))
                    mode = NextMode.Inclusive;
                for (var i = 0; i < list.Count; i++)
                    AddArc($"{path}[{i}]", list[i], arcs);
                break;
            case JsonObject router:
                if (router["spec"] is JsonObject spec && spec["mode"] is { } explicitMode)
                    modeNode = explicitMode;
                if (router["arcs"] is JsonArray routerArcs)
                {
                    for (var i = 0; i < routerArcs.Count; i++)
                        AddArc($"{path}.arcs[{i}]", routerArcs[i], arcs);
                }
                else
                {
                    Error($"{path}.arcs", "next.arcs must be a list of arcs");
                }
                break;
            default:
                Error(path, "next must be a step name, a list, or {spec, arcs}");
                break;
        }
        if (modeNode is not null)
        {
            if (TryString(modeNode, out var text) && text is "exclusive" or "inclusive")
                mode = text == "inclusive" ? NextMode.Inclusive : NextMode.Exclusive;
            else
                Error(modePath, $"next mode must be 'exclusive' or 'inclusive', got '{modeNode.ToJsonString()}'");
        }
        for (var i = 0; i < arcs.Count; i++)
        {
            if (arcs[i].Step != Playbook.EndStep && !names.Contains(arcs[i].Step))
                Error(path, $"next target '{arcs[i].Step}' is not a step in the workflow");
        }
        var normalized = new JsonObject
        {
            ["spec"] = new JsonObject { ["mode"] = mode == NextMode.Inclusive ? "inclusive" : "exclusive" },
            ["arcs"] = new JsonArray(arcs.Select(ArcToJson).ToArray()),
        };
        step["next"] = normalized;
        return new NextSpec(mode, arcs);
    }

    private void AddArc(string path, JsonNode? node, List<Arc> arcs)
    {
        if (node is JsonValue && TryString(node, out var name))
        {
            arcs.Add(new Arc(name, null, null));
            return;
        }
        if (node is not JsonObject arc || !TryString(arc["step"], out var target) || target.Length == 0)
        {
            Error(path, "an arc needs a target 'step'");
            return;
        }
        if (arc.ContainsKey("then") || arc.ContainsKey("else"))
            Error(path, "'then'/'else' arcs are the removed case syntax; use {step, when}");
        string? when = arc["when"] switch
        {
            null => null,
            JsonValue v when TryString(v, out var s) => s,
            JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValueKind() == JsonValueKind.True ? "true" : "false",
            _ => InvalidWhen(path),
        };
        JsonObject? set = null;
        // Legacy arcs carry `args`; their keys are bare, so they behave exactly like an arc-level set.
        foreach (var key in new[] { "args", "set" })
        {
            if (arc[key] is null)
                continue;
            if (arc[key] is not JsonObject values)
            {
                Error($"{path}.{key}", $"{key} must be a mapping");
                continue;
            }
            set ??= [];
            foreach (var (k, v) in values)
                set[k] = v?.DeepClone();
        }
        arcs.Add(new Arc(target, when, set));
    }

    private string? InvalidWhen(string path)
    {
        Error($"{path}.when", "when must be a template string or a boolean");
        return null;
    }

    private static JsonObject ArcToJson(Arc arc)
    {
        var json = new JsonObject { ["step"] = arc.Step };
        if (arc.When is not null)
            json["when"] = arc.When;
        if (arc.Set is not null)
            json["set"] = arc.Set.DeepClone();
        return json;
    }

    private LoopSpec? ParseLoop(string path, JsonNode? node)
    {
        if (node is null)
            return null;
        if (node is not JsonObject loop)
        {
            Error(path, "loop must be a mapping");
            return null;
        }
        var ok = true;
        if (loop.ContainsKey("cursor"))
        {
            Error($"{path}.cursor", "cursor loops are not supported");
            ok = false;
        }
        else if (!loop.ContainsKey("in"))
        {
            Error($"{path}.in", "loop.in is required");
            ok = false;
        }
        if (!TryString(loop["iterator"], out var iterator) || iterator.Length == 0)
        {
            Error($"{path}.iterator", "loop.iterator is required");
            ok = false;
        }
        var mode = LoopMode.Sequential;
        int? maxInFlight = null;
        if (loop["spec"] is JsonObject spec)
        {
            if (spec["mode"] is { } modeNode)
            {
                if (TryString(modeNode, out var text) && text is "sequential" or "parallel")
                {
                    mode = text == "parallel" ? LoopMode.Parallel : LoopMode.Sequential;
                }
                else
                {
                    Error($"{path}.spec.mode", $"loop mode must be 'sequential' or 'parallel', got '{modeNode.ToJsonString()}'");
                    ok = false;
                }
            }
            if (spec["max_in_flight"] is { } max)
            {
                if (max is JsonValue v && v.TryGetValue<long>(out var n) && n > 0 && n <= int.MaxValue)
                {
                    maxInFlight = (int)n;
                }
                else
                {
                    Error($"{path}.spec.max_in_flight", "max_in_flight must be a positive integer");
                    ok = false;
                }
            }
        }
        else if (loop.ContainsKey("spec") && loop["spec"] is not null)
        {
            Error($"{path}.spec", "loop.spec must be a mapping");
            ok = false;
        }
        return ok ? new LoopSpec(loop["in"]?.DeepClone(), iterator, mode, maxInFlight) : null;
    }

    /// <summary>
    /// Parses every template the server renders for <paramref name="step"/>, field by field as the engine renders them, so a
    /// typo fails registration instead of the run. What the worker renders is its business and is not checked here: a tool's
    /// <c>spec</c>, a pipeline task's set/input/args/spec/command, and command strings that mention <c>keychain.</c>.
    /// </summary>
    private void CheckTemplates(string path, Step step)
    {
        var values = new RenderOptions(Limits: limits.Templates);
        var commands = new RenderOptions(DeferKeychain: true, Limits: limits.Templates);
        var fields = new List<(string Field, JsonNode? Value, RenderOptions Options)>();
        if (step.Tool is JsonArray pipeline)
        {
            for (var i = 0; i < pipeline.Count; i++)
            {
                foreach (var (key, value) in (JsonObject)pipeline[i]!)
                {
                    if (!Step.WorkerRenderedTaskKeys.Contains(key))
                        fields.Add(($"tool[{i}].{key}", value, commands));
                }
            }
        }
        else
        {
            foreach (var (key, value) in (JsonObject)step.Tool)
            {
                if (key != Step.WorkerRenderedToolKey)
                    fields.Add(($"tool.{key}", value, commands));
            }
        }
        fields.Add(("input", step.Input, commands));
        // set: keys are names, only the values are rendered.
        foreach (var (key, value) in step.Set ?? [])
            fields.Add(($"set.{key}", value, values));
        if (step.Loop is { } loop)
            fields.Add(("loop.in", loop.In, values));
        for (var i = 0; i < step.Arcs.Count; i++)
        {
            var arc = step.Arcs[i];
            if (arc.When is not null && Template.CheckCondition(arc.When, limits.Templates) is { } whenError)
                TemplateError(path, step.Name, $"next.arcs[{i}].when", whenError);
            foreach (var (key, value) in arc.Set ?? [])
                fields.Add(($"next.arcs[{i}].set.{key}", value, values));
        }
        foreach (var (field, value, options) in fields)
        {
            foreach (var (where, error) in Template.Check(value, options, field))
                TemplateError(path, step.Name, where, error);
        }
    }

    private void TemplateError(string path, string step, string field, TemplateException error) =>
        Error($"{path}.{field}", $"step '{step}': {field}: {error.Reason} (at position {error.Position})");

    private void Error(string path, string message) => _errors.Add(new PlaybookError(path, message));

    private static bool TryString(JsonNode? node, out string value)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            value = v.GetValue<string>();
            return true;
        }
        value = "";
        return false;
    }
}
