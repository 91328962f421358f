namespace NoEtl.Cli.Arguments;

/// <summary>A parsed command line: the global options, the command and what was given to it.</summary>
public sealed record Invocation(
    string? Command,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string> Options,
    bool Help,
    string? Server,
    string? Token,
    bool Json)
{
    public bool Has(string option) => Options.ContainsKey(option);

    public string? Get(string option) => Options.GetValueOrDefault(option);
}
