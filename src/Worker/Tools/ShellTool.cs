using System.Text.Json.Nodes;

namespace NoEtl.Worker.Tools;

/// <summary>
/// <c>kind: shell</c>: a <c>command</c> string runs under <c>/bin/sh -c</c>, a list runs as argv without a shell.
/// Returns {exit_code, stdout, stderr}; a non-zero exit is an error outcome that still carries that data.
/// </summary>
public sealed class ShellTool : ITool
{
    public string Kind => "shell";

    public async Task<ToolOutcome> ExecuteAsync(JsonObject config, ToolContext context, CancellationToken ct)
    {
        var (file, args) = config["command"] switch
        {
            JsonArray list when list.Count > 0 => (ConfigExtensions.Text(list[0]), list.Skip(1).Select(ConfigExtensions.Text).ToList()),
            JsonValue => ("/bin/sh", new List<string> { "-c", config.RequiredStr("command", Kind) }),
            _ => throw new ToolConfigException("shell tool requires 'command' (a string or a list)"),
        };
        var env = config["env"] is JsonObject e ? e.ToDictionary(p => p.Key, p => ConfigExtensions.Text(p.Value)) : null;
        var result = await ProcessRunner.RunAsync(file, args, config.Str("stdin"), env, config.Str("cwd"), config.Timeout(TimeSpan.FromMinutes(10)), ct);
        var data = new JsonObject
        {
            ["exit_code"] = result.ExitCode,
            ["stdout"] = result.Stdout,
            ["stderr"] = result.Stderr,
        };
        if (result.TimedOut)
        {
            return ToolOutcome.Failure("shell command timed out", data, kind: "timeout", retryable: true);
        }
        return result.ExitCode == 0
            ? ToolOutcome.Success(data)
            : ToolOutcome.Failure($"shell command exited with code {result.ExitCode}: {Tail(result.Stderr)}", data, kind: "exit_code", code: result.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    internal static string Tail(string text, int max = 500) => text.Length <= max ? text : "…" + text[^max..];
}
