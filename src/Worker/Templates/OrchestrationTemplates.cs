using System.Text.Json.Nodes;
using NoEtl.Orchestration.Templates;

namespace NoEtl.Worker.Templates;

/// <summary>
/// The worker renders with the control plane's own Jinja-subset engine (NoEtl.Orchestration), so a template means
/// the same thing whether the server renders it or defers it to the worker.
/// </summary>
public sealed class OrchestrationTemplates : ITemplateRenderer
{
    public JsonNode? RenderValue(JsonNode? template, JsonObject context) => Template.RenderValue(template, context);

    public string RenderText(string template, JsonObject context) => Template.Render(template, context);

    public bool EvaluateCondition(string expression, JsonObject context) => Template.EvaluateCondition(expression, context);
}
