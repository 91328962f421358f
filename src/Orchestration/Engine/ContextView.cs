using System.Globalization;
using System.Text.Json.Nodes;
using NoEtl.Orchestration.Templates;

namespace NoEtl.Orchestration.Engine;

/// <summary>
/// The render context as layered lookups over the state, so evaluating a condition copies nothing. The execution-variable
/// map NoETL calls <c>ctx</c> (and <c>workload</c>) is, highest first: this decision's ctx writes, folded ctx variables,
/// step results by name, workload keys. Its entries are also top-level names, below the execution ids.
/// </summary>
internal sealed class ContextView(ExecutionState state)
{
    private readonly JsonObject _writes = [];
    private readonly Dictionary<string, JsonNode?> _results = new(StringComparer.Ordinal);
    private JsonObject? _ctx;
    private JsonObject? _envelopes;

    public void Write(string key, JsonNode? value)
    {
        _writes[key] = value?.DeepClone();
        if (_ctx is not null)
            _ctx[key] = value?.DeepClone();
    }

    public bool TryGet(string name, out JsonNode? value)
    {
        switch (name)
        {
            case "execution_id":
                value = ExecutionId;
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
            case "job":
                value = Job();
                return true;
            case "ctx" or "workload":
                value = Ctx;
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
        return state.Workload.TryGetPropertyValue(name, out value);
    }

    private string ExecutionId => state.ExecutionId.ToString(CultureInfo.InvariantCulture);

    /// <summary>NoETL's <c>job</c>: the execution as the job, every id a string.</summary>
    private JsonObject Job() => new() { ["uuid"] = ExecutionId, ["execution_id"] = ExecutionId, ["id"] = ExecutionId };

    /// <summary>The execution-variable map, built once per view; templates read it as <c>ctx</c> and <c>workload</c>.</summary>
    public JsonObject Ctx => _ctx ??= CtxCopy();

    /// <summary>A fresh copy of the execution-variable map.</summary>
    public JsonObject CtxCopy()
    {
        var ctx = new JsonObject();
        foreach (var (key, value) in state.Workload)
            ctx[key] = value?.DeepClone();
        foreach (var step in CompletedSteps())
            ctx[step.Name] = ContextValue(step);
        foreach (var (key, value) in state.Variables)
            ctx[key] = value?.DeepClone();
        foreach (var (key, value) in _writes)
            ctx[key] = value?.DeepClone();
        return ctx;
    }

    /// <summary>
    /// A command's <c>render_context</c> (NoETL <c>get_render_context</c>): every variable at the top level, the same map as
    /// <c>ctx</c> and <c>workload</c> (a NoETL worker resolves <c>ctx.x</c> only through the <c>ctx</c> key), <c>steps</c>,
    /// <c>job</c> and the ids as text. The caller adds the per-command bindings.
    /// </summary>
    public JsonObject Materialize()
    {
        var context = new JsonObject();
        foreach (var (key, value) in Ctx)
            context[key] = value?.DeepClone();
        context["workload"] = Ctx.DeepClone();
        context["ctx"] = Ctx.DeepClone();
        context["steps"] = (_envelopes ??= Envelopes()).DeepClone();
        context["job"] = Job();
        context["execution_id"] = ExecutionId;
        context["catalog_id"] = state.CatalogId.ToString(CultureInfo.InvariantCulture);
        context["path"] = state.Path;
        context["version"] = state.Version;
        return context;
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
    /// A step result as templates see it: reachable as <c>name.field</c>, and as <c>name.data.field</c> when it has neither
    /// a <c>data</c> key nor NoETL's <c>context</c> copy (loop, task-sequence and referenced results carry their own shape).
    /// </summary>
    private static JsonNode? ContextValue(StepState step)
    {
        if (step.Result is not JsonObject result)
            return step.Result?.DeepClone();
        var value = (JsonObject)result.DeepClone();
        if (!value.ContainsKey("data") && !value.ContainsKey("context"))
            value["data"] = result.DeepClone();
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
        return view.TryGet(name, out value);
    }
}
