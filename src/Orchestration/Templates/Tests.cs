using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Templates;

/// <summary>The <c>is</c> tests of the Rust control plane.</summary>
internal static class Tests
{
    /// <summary>Every name <see cref="Apply"/> handles, checked when the template is parsed.</summary>
    public static readonly HashSet<string> Names = ["defined", "undefined", "none", "string", "number", "sequence", "mapping"];

    public static bool Apply(string name, object? value, int position) => name switch
    {
        "defined" => value is not Undefined,
        "undefined" => value is Undefined,
        "none" => value is null,
        "string" => value is string,
        "number" => value is long or double,
        "sequence" => value is JsonArray,
        "mapping" => value is JsonObject,
        _ => throw new EvaluationError($"unknown test '{name}'", position),
    };
}
