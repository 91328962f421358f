using System.Text.Json.Nodes;
using NoEtl.Cli.Http;

namespace NoEtl.Cli;

/// <summary>Everything a command needs once the global options are resolved.</summary>
public sealed class CliContext(CliHost host, NoEtlClient client, bool json)
{
    public NoEtlClient Client { get; } = client;
    public TextWriter Out => host.Out;
    public TextWriter Error => host.Error;
    public bool Json { get; } = json;
    public bool Interactive => host.Interactive && !Json;
    public TimeSpan PollInterval => host.PollInterval;

    /// <summary>Machine-readable output is one compact JSON document per line, so it can be piped to jq line by line.</summary>
    public void WriteJson(JsonNode? document) => Out.WriteLine(document?.ToJsonString() ?? "null");
}
