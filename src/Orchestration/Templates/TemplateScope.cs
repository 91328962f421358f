using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Templates;

/// <summary>Where template variables come from. Lets the engine layer values (output, iteration, ctx) without copying the context.</summary>
public abstract class TemplateScope
{
    public abstract bool TryGet(string name, out JsonNode? value);

    public static TemplateScope Of(JsonObject context) => new ObjectScope(context);

    private sealed class ObjectScope(JsonObject context) : TemplateScope
    {
        public override bool TryGet(string name, out JsonNode? value) => context.TryGetPropertyValue(name, out value);
    }
}
