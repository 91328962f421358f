using System.Text.Json.Nodes;
using NoEtl.Cli.Arguments;
using NoEtl.Cli.Http;
using NoEtl.Cli.Output;

namespace NoEtl.Cli.Commands;

public sealed class ExecCommand : ICommand
{
    public string Name => "exec";
    public string Summary => "start an execution of a registered playbook";
    public string Synopsis => "exec PATH [--input JSON|@file] [--version N] [--wait]";
    public IReadOnlyList<string> Arguments => ["PATH"];

    public IReadOnlyList<OptionSpec> Options =>
    [
        new("input", "JSON|@file", "the workload, as inline JSON or @file"),
        new("version", "N", "catalog version (default: latest)"),
        new("wait", null, "wait until the execution ends; exit code 0 only when it COMPLETED"),
    ];

    public async Task<int> RunAsync(Invocation invocation, CliContext context, CancellationToken cancel)
    {
        var workload = WorkloadOption.Read(invocation.Get("input"));
        int? version = invocation.Get("version") is { } text
            ? int.TryParse(text, out var number) && number > 0 ? number : throw new UsageException($"--version must be a positive integer, not '{text}'")
            : null;
        var started = await ExecuteAsync(invocation.Arguments[0], version, workload, context, cancel);
        var executionId = Json.Text(started["execution_id"])!;
        // Plain output is just the id so scripts can capture it: EID=$(noetl exec path).
        if (context.Json)
            context.WriteJson(started);
        else
            context.Out.WriteLine(executionId);
        if (!invocation.Has("wait"))
            return ExitCodes.Ok;

        var status = await WaitAsync(executionId, context, cancel);
        if (context.Json)
            context.WriteJson(status);
        else
            context.Out.WriteLine(StatusCommand.Headline(status));
        return ExecutionState.ExitCode(ExecutionState.Terminal(status));
    }

    public static async Task<JsonNode> ExecuteAsync(string path, int? version, JsonObject workload, CliContext context, CancellationToken cancel)
    {
        var body = new JsonObject { ["path"] = path };
        if (version is not null)
            body["version"] = version;
        body["workload"] = workload;
        body["resource_kind"] = "playbook";
        var started = await context.Client.PostAsync("/api/execute", body, cancel);
        if (Json.Text(started["execution_id"]) is null)
            throw new ApiException(200, "OK", $"the server did not return an execution_id: {started.ToJsonString()}");
        return started;
    }

    private static async Task<JsonNode> WaitAsync(string executionId, CliContext context, CancellationToken cancel)
    {
        while (true)
        {
            var status = await StatusCommand.GetAsync(executionId, context, cancel);
            if (ExecutionState.Terminal(status) is not null)
                return status;
            await Task.Delay(context.PollInterval, cancel);
        }
    }
}
