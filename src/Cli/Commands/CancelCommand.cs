using System.Text.Json.Nodes;
using NoEtl.Cli.Arguments;
using NoEtl.Cli.Output;

namespace NoEtl.Cli.Commands;

public sealed class CancelCommand : ICommand
{
    public string Name => "cancel";
    public string Summary => "cancel a running execution (and its child executions)";
    public string Synopsis => "cancel ID [--reason TEXT]";
    public IReadOnlyList<string> Arguments => ["ID"];
    public IReadOnlyList<OptionSpec> Options => [new("reason", "TEXT", "why; recorded on the execution.cancelled event")];

    public async Task<int> RunAsync(Invocation invocation, CliContext context, CancellationToken cancel)
    {
        var executionId = invocation.Arguments[0];
        // Without a reason the server records its own default ("User requested cancellation").
        var body = invocation.Get("reason") is { } reason ? new JsonObject { ["reason"] = reason } : [];
        var answer = await context.Client.PostAsync($"/api/executions/{Uri.EscapeDataString(executionId)}/cancel", body, cancel);
        if (context.Json)
        {
            context.WriteJson(answer);
            return ExitCodes.Ok;
        }
        var status = Json.Text(answer["status"]) ?? "unknown";
        var message = Json.Text(answer["message"]);
        context.Out.WriteLine(message is null ? status : $"{status}: {message}");
        if (answer["cancelled_executions"] is JsonArray { Count: > 0 } cancelled)
            context.Out.WriteLine($"cancelled executions: {string.Join(", ", cancelled.Select(Json.Text))}");
        return ExitCodes.Ok;
    }
}
