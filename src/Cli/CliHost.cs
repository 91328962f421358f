namespace NoEtl.Cli;

/// <summary>
/// What the CLI needs from the process, injected so tests can run commands in-process against a fake server.
/// </summary>
public sealed record CliHost(TextWriter Out, TextWriter Error, Func<string, string?> GetEnvironment, bool Interactive)
{
    /// <summary>How often follow loops poll the server; tests shorten it.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>A live spinner only makes sense on a real terminal; pipes and CI logs get plain lines.</summary>
    public static bool StdoutIsTerminal() =>
        !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") is not "dumb";
}
