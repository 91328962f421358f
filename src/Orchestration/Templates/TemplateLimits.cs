using System.Text;

namespace NoEtl.Orchestration.Templates;

/// <summary>
/// What one render may cost (docs/limits.md). A render past any of these fails with a <see cref="TemplateException"/>,
/// which the engine turns into a failed step like any other template error.
/// </summary>
public sealed record TemplateLimits
{
    /// <summary>The parser's own bound on nesting, whatever <see cref="MaxDepth"/> says: it keeps recursion far from the stack's end.</summary>
    public const int DepthCeiling = 256;

    public static readonly TemplateLimits Default = new();

    /// <summary>Longest string a render builds, its output or an intermediate value, in UTF-16 characters (bytes, for ASCII).</summary>
    public int MaxOutputLength { get; init; } = 1 << 20;

    /// <summary>Evaluation steps: one per loop iteration, filter, output and container element compared, plus one per 4 KiB of string built.</summary>
    public int MaxSteps { get; init; } = 100_000;

    /// <summary>Nesting of blocks and expressions in a template (up to <see cref="DepthCeiling"/>), and of the values it walks (tojson, ==).</summary>
    public int MaxDepth { get; init; } = 64;
}

/// <summary>The running cost of one render (a whole <see cref="Template.RenderValue(System.Text.Json.Nodes.JsonNode?, TemplateScope, RenderOptions)"/> tree shares one).</summary>
internal sealed class RenderBudget(TemplateLimits limits)
{
    private long _steps;

    public TemplateLimits Limits => limits;

    public void Charge(long steps, int position)
    {
        _steps += steps;
        if (_steps > limits.MaxSteps)
            throw new EvaluationError($"template exceeded {limits.MaxSteps} evaluation steps", position);
    }

    /// <summary>Call before building a string of <paramref name="length"/> characters, so an oversized one is never allocated.</summary>
    public void Produce(long length, int position)
    {
        CheckLength(length, position);
        Charge(1 + (length / 4096), position);
    }

    /// <summary>Appends under the length limit; the steps are charged once for the finished string.</summary>
    public StringBuilder Append(StringBuilder builder, string text, int position)
    {
        CheckLength(builder.Length + (long)text.Length, position);
        return builder.Append(text);
    }

    public void CheckLength(long length, int position)
    {
        if (length > limits.MaxOutputLength)
            throw new EvaluationError($"template output longer than {limits.MaxOutputLength} characters", position);
    }

    public void CheckDepth(int depth, int position)
    {
        if (depth > limits.MaxDepth)
            throw new EvaluationError($"value nested deeper than {limits.MaxDepth} levels", position);
    }
}
