using System.Text.Json.Nodes;

namespace NoEtl.Worker.Templates;

/// <summary>
/// The seam to the template engine. The server renders command configs but defers <c>keychain.*</c> and
/// pipeline <c>set/input/spec/command</c> templates to the worker, which re-renders them here.
/// Implemented by <see cref="OrchestrationTemplates"/>; failures surface as NoEtl.Orchestration's TemplateException.
/// </summary>
public interface ITemplateRenderer
{
    /// <summary>Renders every string (and key) inside <paramref name="template"/>; non-template values pass through.</summary>
    JsonNode? RenderValue(JsonNode? template, JsonObject context);

    /// <summary>Evaluates a policy <c>when</c> such as <c>{{ output.http.status >= 500 }}</c> (braces optional).</summary>
    bool EvaluateCondition(string expression, JsonObject context);
}
