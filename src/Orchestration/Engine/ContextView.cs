using System.Globalization;
using System.Text.Json.Nodes;
using NoEtl.Orchestration.Templates;

namespace NoEtl.Orchestration.Engine;

/// <summary>
/// The flat render context of §2.5 as layered lookups over the state, so evaluating a condition copies nothing.
/// Precedence, highest first: execution ids, this decision's ctx writes, folded ctx variables, step results, workload keys.
/// </summary>
internal sealed class ContextView(ExecutionState state)
{
    private readonly JsonObject _writes = [];
    private readonly Dictionary<string, JsonNode?> _results = new(StringComparer.Ordinal);
    private JsonObject? _flat;
    private JsonObject? _envelopes;

    public void Write(string key, JsonNode? value)
    {
        _writes[key] = value?.DeepClone();
        if (_flat is not null)
            _flat[key] = value?.DeepClone();
    }

    public bool TryGet(string name, out JsonNode? value)
    {
        switch (name)
        {
            case "execution_id":
                value = state.ExecutionId.ToString(CultureInfo.InvariantCulture);
                return true;
            case "catalog_id":
                value = state.CatalogId.ToString(CultureInfo.InvariantCulture);
                return true;
            case "path":
                value = state.Path;
                return true;
            case "version":
                value = state.Version;
                return true;
            case "steps":
                value = _envelopes ??= Envelopes();
                return true;
        }
        if (_writes.TryGetPropertyValue(name, out value) || state.Variables.TryGetPropertyValue(name, out value))
            return true;
        if (state.Steps.TryGetValue(name, out var step) && step.Completions > 0)
        {
            if (!_results.TryGetValue(name, out value))
                _results[name] = value = ContextValue(step);
            return true;
        }
        if (name == "workload")
        {
            value = state.Workload;
            return true;
        }
        return state.Workload.TryGetPropertyValue(name, out value);
    }

    /// <summary>The whole flat map, built once per view; it is also what <c>ctx</c> resolves to.</summary>
    public JsonObject Flat => _flat ??= Materialize();

    /// <summary>A fresh copy of the flat map, for a command to own.</summary>
    public JsonObject Materialize()
    {
        var flat = new JsonObject();
        foreach (var (key, value) in state.Workload)
            flat[key] = value?.DeepClone();
        flat["workload"] = state.Workload.DeepClone();
        foreach (var step in CompletedSteps())
            flat[step.Name] = ContextValue(step);
        flat["steps"] = Envelopes();
        foreach (var (key, value) in state.Variables)
            flat[key] = value?.DeepClone();
        foreach (var (key, value) in _writes)
            flat[key] = value?.DeepClone();
        flat["execution_id"] = state.ExecutionId.ToString(CultureInfo.InvariantCulture);
        flat["catalog_id"] = state.CatalogId.ToString(CultureInfo.InvariantCulture);
        flat["path"] = state.Path;
        flat["version"] = state.Version;
        return flat;
    }

    private JsonObject Envelopes()
    {
        var steps = new JsonObject();
        foreach (var step in CompletedSteps())
            steps[step.Name] = step.Envelope?.DeepClone();
        return steps;
    }

    // Workflow order, from the completion list: every command builds a context, so this must not walk the whole workflow.
    private IEnumerable<StepState> CompletedSteps() =>
        state.CompletedSteps.OrderBy(state.Playbook.IndexOf).Select(state.Step);

    /// <summary>
    /// A step result as templates see it (§2.5): reachable as <c>name.field</c> and <c>name.data.field</c>; for a pipeline
    /// (<c>{label: data}</c>) each label's fields also appear at the top level, the first label winning.
    /// </summary>
    private JsonNode? ContextValue(StepState step)
    {
        if (step.Result is not JsonObject result)
            return step.Result?.DeepClone();
        var value = (JsonObject)result.DeepClone();
        if (state.Playbook.FindStep(step.Name)?.Tool is JsonArray tasks)
        {
            foreach (var label in tasks.Select(t => (string?)t?["name"]).OfType<string>())
            {
                if (result[label] is not JsonObject taskData)
                    continue;
                foreach (var (key, field) in taskData)
                {
                    if (!value.ContainsKey(key))
                        value[key] = field?.DeepClone();
                }
            }
        }
        if (!value.ContainsKey("data"))
            value["data"] = value.DeepClone();
        return value;
    }
}

/// <summary>Template scope over a <see cref="ContextView"/> plus per-evaluation bindings (output, event, iteration variables).</summary>
internal sealed class EngineScope(ContextView view, IReadOnlyDictionary<string, JsonNode?>? bindings) : TemplateScope
{
    public override bool TryGet(string name, out JsonNode? value)
    {
        if (bindings is not null && bindings.TryGetValue(name, out value))
            return true;
        if (name == "ctx")
        {
            value = view.Flat;
            return true;
        }
        return view.TryGet(name, out value);
    }
}
