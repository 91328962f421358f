using System.Text;
using NoEtl.Cli.Arguments;
using NoEtl.Cli.Commands;

namespace NoEtl.Cli;

public static class HelpText
{
    public static string General()
    {
        var text = new StringBuilder();
        text.AppendLine("noetl - command line for the NoETL control plane (speaks HTTP to the server)");
        text.AppendLine();
        text.AppendLine("usage: noetl [global options] COMMAND [arguments]");
        text.AppendLine();
        text.AppendLine("commands:");
        foreach (var command in CliApp.Commands)
            text.AppendLine($"  {command.Name,-10} {command.Summary}");
        text.AppendLine($"  {"help",-10} help CMD shows a command's options (as does CMD --help)");
        AppendOptions(text, "global options:", ArgParser.GlobalOptions);
        AppendExitCodes(text);
        return text.ToString();
    }

    /// <summary>What a usage error prints under the message: the synopsis, not the whole help.</summary>
    public static string Hint(ICommand? command) => command is null
        ? "run 'noetl --help' for the commands\n"
        : $"usage: noetl {command.Synopsis}\nrun 'noetl {command.Name} --help' for its options\n";

    public static string For(ICommand command)
    {
        var text = new StringBuilder();
        text.AppendLine($"usage: noetl {command.Synopsis}");
        text.AppendLine();
        text.AppendLine(command.Summary);
        if (command.Options.Count > 0)
            AppendOptions(text, "options:", command.Options);
        AppendOptions(text, "global options:", ArgParser.GlobalOptions);
        return text.ToString();
    }

    private static void AppendOptions(StringBuilder text, string title, IReadOnlyList<OptionSpec> options)
    {
        text.AppendLine();
        text.AppendLine(title);
        foreach (var option in options)
            text.AppendLine($"  {option.Synopsis,-22} {option.Description}");
    }

    private static void AppendExitCodes(StringBuilder text)
    {
        text.AppendLine();
        text.AppendLine("exit codes: 0 ok / COMPLETED, 1 FAILED, CANCELLED or an HTTP error, 2 usage error, 3 server unreachable");
    }
}
