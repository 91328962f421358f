using System.Text;
using System.Text.Json.Nodes;
using NoEtl.Cli.Arguments;
using NoEtl.Cli.Output;

namespace NoEtl.Cli.Commands;

public sealed class StatusCommand : ICommand
{
    public string Name => "status";
    public string Summary => "show an execution's status";
    public string Synopsis => "status ID";
    public IReadOnlyList<string> Arguments => ["ID"];
    public IReadOnlyList<OptionSpec> Options => [];

    public async Task<int> RunAsync(Invocation invocation, CliContext context, CancellationToken cancel)
    {
        var status = await GetAsync(invocation.Arguments[0], context, cancel);
        if (context.Json)
            context.WriteJson(status);
        else
            context.Out.Write(Describe(status));
        return ExitCodes.Ok;
    }

    public static Task<JsonNode> GetAsync(string executionId, CliContext context, CancellationToken cancel) =>
        context.Client.GetAsync($"/api/executions/{Uri.EscapeDataString(executionId)}/status", cancel);

    /// <summary>The state word: the terminal state, else the server's status, else RUNNING.</summary>
    public static string State(JsonNode status) =>
        ExecutionState.Terminal(status) ?? Json.Text(status["status"])?.ToUpperInvariant() ?? "RUNNING";

    /// <summary>One line: <c>COMPLETED in 1.2s (execution 123)</c>, with the error when there is one.</summary>
    public static string Headline(JsonNode status)
    {
        var line = $"{State(status)}";
        if (Json.Text(status["duration_human"]) is { } duration)
            line += $" in {duration}";
        line += $" (execution {Json.Text(status["execution_id"])})";
        return Json.Text(status["error"]) is { Length: > 0 } error ? $"{line}: {error}" : line;
    }

    public static string Describe(JsonNode status)
    {
        var text = new StringBuilder();
        void Field(string name, string? value)
        {
            if (!string.IsNullOrEmpty(value))
                text.AppendLine($"{name,-10} {value}");
        }
        Field("execution", Json.Text(status["execution_id"]));
        Field("path", Json.Text(status["path"]));
        Field("status", State(status));
        Field("current", Json.Text(status["current_step"]));
        if (status["completed_steps"] is JsonArray steps)
            Field("completed", string.Join(", ", steps.Select(Json.Text)));
        Field("started", Json.Text(status["start_time"]));
        Field("ended", Json.Text(status["end_time"]));
        Field("duration", Json.Text(status["duration_human"]));
        Field("error", Json.Text(status["error"]));
        return text.ToString();
    }
}
