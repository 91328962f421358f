using System.Text.Json.Nodes;
using NoEtl.Cli.Arguments;
using NoEtl.Cli.Output;

namespace NoEtl.Cli.Commands;

public sealed class RegisterCommand : ICommand
{
    public string Name => "register";
    public string Summary => "register a playbook file in the catalog (a new version each time)";
    public string Synopsis => "register FILE";
    public IReadOnlyList<string> Arguments => ["FILE"];
    public IReadOnlyList<OptionSpec> Options => [];

    public async Task<int> RunAsync(Invocation invocation, CliContext context, CancellationToken cancel)
    {
        var registered = await RegisterAsync(PlaybookFile.Read(invocation.Arguments[0]), context, cancel);
        if (context.Json)
            context.WriteJson(registered);
        else
            context.Out.WriteLine(Describe(registered));
        return ExitCodes.Ok;
    }

    /// <summary>NoETL's CLI sends the YAML base64-encoded, so any bytes survive the JSON body unchanged.</summary>
    public static Task<JsonNode> RegisterAsync(PlaybookFile playbook, CliContext context, CancellationToken cancel) =>
        context.Client.PostAsync("/api/catalog/register",
            new JsonObject { ["content"] = playbook.Base64, ["resource_type"] = "Playbook" }, cancel);

    public static string Describe(JsonNode registered) =>
        $"registered {Json.Text(registered["path"])} version {Json.Text(registered["version"])} (catalog_id {Json.Text(registered["catalog_id"])})";
}
