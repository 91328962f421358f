using NoEtl.Cli.Arguments;
using NoEtl.Cli.Commands;
using NoEtl.Cli.Http;

namespace NoEtl.Cli;

/// <summary>Parses the command line, resolves the global options and runs one command, mapping failures to exit codes.</summary>
public static class CliApp
{
    public const string DefaultServer = "http://127.0.0.1:8082";

    public static readonly IReadOnlyList<ICommand> Commands =
        [new RegisterCommand(), new ExecCommand(), new RunCommand(), new StatusCommand(), new EventsCommand(), new CancelCommand()];

    public static async Task<int> RunAsync(IReadOnlyList<string> args, CliHost host, CancellationToken cancel = default)
    {
        Invocation invocation;
        ICommand? command;
        try
        {
            invocation = ArgParser.Parse(args, name => Find(name)?.Options);
            if (invocation.Command == "help")
                return Help(host, invocation.Arguments.Count > 0 ? invocation.Arguments[0] : null);
            if (invocation.Command is null)
                return invocation.Help ? Help(host, null) : Usage(host, "no command given", HelpText.Hint(null));
            command = Find(invocation.Command) ?? throw new UsageException($"unknown command '{invocation.Command}'", HelpText.Hint(null));
            if (invocation.Help)
                return Help(host, command.Name);
            if (invocation.Arguments.Count != command.Arguments.Count)
                throw new UsageException(
                    invocation.Arguments.Count < command.Arguments.Count
                        ? $"missing {string.Join(' ', command.Arguments.Skip(invocation.Arguments.Count))}"
                        : $"unexpected argument '{invocation.Arguments[command.Arguments.Count]}'",
                    HelpText.Hint(command));
        }
        catch (UsageException e)
        {
            return Usage(host, e.Message, e.Usage);
        }

        try
        {
            var client = NoEtlClient.Create(ResolveServer(invocation, host), invocation.Token ?? host.GetEnvironment("NOETL_API_TOKEN"));
            return await command.RunAsync(invocation, new CliContext(host, client, invocation.Json), cancel);
        }
        catch (UsageException e)
        {
            return Usage(host, e.Message, e.Usage);
        }
        catch (ServerUnreachableException e)
        {
            host.Error.WriteLine($"error: {e.Message}");
            return ExitCodes.Unreachable;
        }
        catch (ApiException e)
        {
            host.Error.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            host.Error.WriteLine("interrupted");
            return ExitCodes.Interrupted;
        }
    }

    private static ICommand? Find(string name) => Commands.FirstOrDefault(c => c.Name == name);

    private static Uri ResolveServer(Invocation invocation, CliHost host)
    {
        var env = host.GetEnvironment("NOETL_SERVER_URL");
        var server = invocation.Server ?? (string.IsNullOrEmpty(env) ? DefaultServer : env);
        if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new UsageException($"--server must be an http(s) URL, not '{server}'");
        return uri;
    }

    private static int Help(CliHost host, string? commandName)
    {
        if (commandName is null)
        {
            host.Out.Write(HelpText.General());
            return ExitCodes.Ok;
        }
        if (Find(commandName) is not { } command)
            return Usage(host, $"unknown command '{commandName}'", HelpText.Hint(null));
        host.Out.Write(HelpText.For(command));
        return ExitCodes.Ok;
    }

    private static int Usage(CliHost host, string message, string? usage)
    {
        host.Error.WriteLine($"error: {message}");
        if (usage is not null)
            host.Error.Write(usage);
        return ExitCodes.Usage;
    }
}
