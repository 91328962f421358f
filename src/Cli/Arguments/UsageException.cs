namespace NoEtl.Cli.Arguments;

/// <summary>The command line (or a file it names) is wrong; reported with the usage text and exit code 2.</summary>
public sealed class UsageException(string message, string? usage = null) : Exception(message)
{
    public string? Usage { get; } = usage;
}
