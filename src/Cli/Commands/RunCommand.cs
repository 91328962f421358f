using System.Text.Json.Nodes;
using NoEtl.Cli.Arguments;
using NoEtl.Cli.Http;
using NoEtl.Cli.Output;

namespace NoEtl.Cli.Commands;

public sealed class RunCommand : ICommand
{
    // Erase the live line before printing a permanent one over it.
    private const string ClearLine = "\r\u001b[2K";

    public string Name => "run";
    public string Summary => "register a playbook file, execute it and follow it step by step until it ends";
    public string Synopsis => "run FILE [--input JSON|@file]";
    public IReadOnlyList<string> Arguments => ["FILE"];
    public IReadOnlyList<OptionSpec> Options => [new("input", "JSON|@file", "the workload, as inline JSON or @file")];

    public async Task<int> RunAsync(Invocation invocation, CliContext context, CancellationToken cancel)
    {
        var playbook = PlaybookFile.Read(invocation.Arguments[0]);
        var workload = WorkloadOption.Read(invocation.Get("input"));

        var registered = await RegisterCommand.RegisterAsync(playbook, context, cancel);
        var path = Json.Text(registered["path"]) ?? throw new ApiException(200, "OK", "the server did not return the registered path");
        // Run exactly the version just registered, not whatever is latest by the time execute resolves it.
        int? version = int.TryParse(Json.Text(registered["version"]), out var v) ? v : null;
        var started = await ExecCommand.ExecuteAsync(path, version, workload, context, cancel);
        var executionId = Json.Text(started["execution_id"])!;
        if (context.Json)
        {
            context.WriteJson(registered);
            context.WriteJson(started);
        }
        else
        {
            context.Out.WriteLine(RegisterCommand.Describe(registered));
            context.Out.WriteLine($"execution {executionId} started");
        }

        var progress = new StepProgress(playbook.StepCount);
        var live = false;
        void OnEvent(JsonObject e)
        {
            if (context.Json)
            {
                context.WriteJson(e);
                return;
            }
            // On a terminal the spinner stands for "started"; plain output prints every transition as a line.
            if (progress.Apply(e) is not { } line || (context.Interactive && line.IsStart))
                return;
            context.Out.WriteLine(live ? ClearLine + line.Text : line.Text);
            live = false;
        }
        void OnIdle()
        {
            if (!context.Interactive)
                return;
            context.Out.Write(ClearLine + progress.LiveLine(DateTimeOffset.UtcNow));
            context.Out.Flush();
            live = true;
        }

        string terminal;
        try
        {
            terminal = await new EventFeed(context.Client, executionId).FollowAsync(OnEvent, OnIdle, context.PollInterval, cancel);
        }
        finally
        {
            if (live)
                context.Out.Write(ClearLine);
        }

        var status = await StatusCommand.GetAsync(executionId, context, cancel);
        if (context.Json)
            context.WriteJson(status);
        else
            context.Out.WriteLine(StatusCommand.Headline(status));
        return ExecutionState.ExitCode(ExecutionState.Terminal(status) ?? terminal);
    }
}
