using System.Text.Json.Nodes;
using NoEtl.Cli.Arguments;
using NoEtl.Cli.Output;

namespace NoEtl.Cli.Commands;

public sealed class EventsCommand : ICommand
{
    public string Name => "events";
    public string Summary => "list an execution's events (time, type, step, status)";
    public string Synopsis => "events ID [--follow]";
    public IReadOnlyList<string> Arguments => ["ID"];
    public IReadOnlyList<OptionSpec> Options => [new("follow", null, "keep polling for new events until the execution ends")];

    public async Task<int> RunAsync(Invocation invocation, CliContext context, CancellationToken cancel)
    {
        var feed = new EventFeed(context.Client, invocation.Arguments[0]);
        void Print(JsonObject e)
        {
            if (context.Json)
                context.WriteJson(e);
            else
                context.Out.WriteLine(EventFormatter.Format(e));
        }

        if (!invocation.Has("follow"))
        {
            foreach (var e in await feed.NextAsync(cancel))
                Print(e);
            return ExitCodes.Ok;
        }
        var terminal = await feed.FollowAsync(Print, () => { }, context.PollInterval, cancel);
        return ExecutionState.ExitCode(terminal);
    }
}
