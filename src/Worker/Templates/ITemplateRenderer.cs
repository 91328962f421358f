using System.Text.Json.Nodes;

namespace NoEtl.Worker.Templates;

/// <summary>
/// The seam to the template engine. The server renders command configs once; the worker renders what it
/// defers (<c>keychain.*</c>, pipeline tasks, task policies) and python args that still hold a template.
/// Implemented by <see cref="OrchestrationTemplates"/>; failures surface as NoEtl.Orchestration's TemplateException.
/// </summary>
public interface ITemplateRenderer
{
    /// <summary>Renders every string (and key) inside <paramref name="template"/>; non-template values pass through.</summary>
    JsonNode? RenderValue(JsonNode? template, JsonObject context);

    /// <summary>Renders one template to its text, without typing the output (NoETL's task-policy <c>set</c> values).</summary>
    string RenderText(string template, JsonObject context);

    /// <summary>Evaluates a policy <c>when</c> such as <c>{{ output.http.status >= 500 }}</c> (braces optional).</summary>
    bool EvaluateCondition(string expression, JsonObject context);
}
