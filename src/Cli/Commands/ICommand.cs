using NoEtl.Cli.Arguments;

namespace NoEtl.Cli.Commands;

/// <summary>One <c>noetl</c> subcommand: its help text, its options and what it does.</summary>
public interface ICommand
{
    string Name { get; }

    /// <summary>One line for the command list.</summary>
    string Summary { get; }

    /// <summary>The synopsis after <c>noetl</c>, e.g. <c>status ID</c>.</summary>
    string Synopsis { get; }

    /// <summary>The positional arguments, in order; all are required.</summary>
    IReadOnlyList<string> Arguments { get; }

    IReadOnlyList<OptionSpec> Options { get; }

    Task<int> RunAsync(Invocation invocation, CliContext context, CancellationToken cancel);
}
