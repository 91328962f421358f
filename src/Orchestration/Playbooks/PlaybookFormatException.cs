namespace NoEtl.Orchestration.Playbooks;

/// <summary>The text is not a YAML/JSON mapping document; <see cref="Line"/> and <see cref="Column"/> are 1-based.</summary>
public sealed class PlaybookFormatException(string message, long line, long column, Exception? inner = null)
    : Exception($"{message} (line {line}, column {column})", inner)
{
    public long Line { get; } = line;
    public long Column { get; } = column;
}
