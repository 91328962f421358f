namespace NoEtl.Cli.Arguments;

/// <summary>
/// A small hand-written parser: global options may appear anywhere, the first bare word names the command, and
/// the command's own options are checked against its spec so typos fail loudly instead of being ignored.
/// Accepts <c>--name value</c> and <c>--name=value</c>; <c>--</c> ends option parsing.
/// </summary>
public static class ArgParser
{
    public static readonly IReadOnlyList<OptionSpec> GlobalOptions =
    [
        new("server", "URL", "server base URL (default: $NOETL_SERVER_URL, else http://127.0.0.1:8082)"),
        new("token", "TOKEN", "send 'Authorization: Bearer TOKEN' (default: $NOETL_API_TOKEN)"),
        new("json", null, "machine-readable output: the server's JSON documents, one per line"),
        new("help", null, "show help (also -h)"),
    ];

    public static Invocation Parse(IReadOnlyList<string> args, Func<string, IReadOnlyList<OptionSpec>?> commandOptions)
    {
        string? command = null;
        IReadOnlyList<OptionSpec> specs = [];
        var positional = new List<string>();
        var options = new Dictionary<string, string>();
        var globals = new Dictionary<string, string>();
        var onlyPositional = false;

        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (onlyPositional || arg == "-" || !arg.StartsWith('-'))
            {
                if (command is null)
                {
                    command = arg;
                    specs = commandOptions(arg) ?? [];
                }
                else
                    positional.Add(arg);
                continue;
            }
            if (arg == "--")
            {
                onlyPositional = true;
                continue;
            }
            if (arg == "-h")
            {
                globals["help"] = "true";
                continue;
            }
            if (!arg.StartsWith("--"))
                throw new UsageException($"unknown option '{arg}'");

            var (name, inlineValue) = Split(arg[2..]);
            var global = GlobalOptions.FirstOrDefault(o => o.Name == name);
            var spec = global ?? specs.FirstOrDefault(o => o.Name == name)
                ?? throw new UsageException(command is null ? $"unknown option '--{name}'" : $"unknown option '--{name}' for '{command}'");
            string value;
            if (spec.IsFlag)
            {
                if (inlineValue is not null)
                    throw new UsageException($"option '--{name}' takes no value");
                value = "true";
            }
            else if (inlineValue is not null)
                value = inlineValue;
            else if (i + 1 < args.Count)
                value = args[++i];
            else
                throw new UsageException($"option '--{name}' needs a value ({spec.ValueName})");
            (global is null ? options : globals)[name] = value;
        }

        return new Invocation(
            command, positional, options, globals.ContainsKey("help"),
            globals.GetValueOrDefault("server"), globals.GetValueOrDefault("token"), globals.ContainsKey("json"));
    }

    private static (string Name, string? Value) Split(string option)
    {
        var equals = option.IndexOf('=');
        return equals < 0 ? (option, null) : (option[..equals], option[(equals + 1)..]);
    }
}
