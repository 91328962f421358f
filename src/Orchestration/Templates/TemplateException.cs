namespace NoEtl.Orchestration.Templates;

/// <summary>A template failed to parse or evaluate. <see cref="Position"/> is the 0-based character offset in <see cref="Template"/>.</summary>
public sealed class TemplateException(string message, string template, int position)
    : Exception($"{message} (at position {position} in template '{template}')")
{
    public string Reason { get; } = message;
    public string Template { get; } = template;
    public int Position { get; } = position;
}

/// <summary>Raised inside evaluation before the template text is known; <see cref="Template"/> wraps it.</summary>
internal sealed class EvaluationError(string message, int position) : Exception(message)
{
    public int Position { get; } = position;
}
