using System.Text;
using System.Text.Json.Nodes;
using NoEtl.Cli.Commands;
using NoEtl.Cli.Http;
using NoEtl.Cli.Output;

namespace NoEtl.Cli.Tests;

public class OutputTests
{
    [Theory]
    [InlineData("""{"detail":"Execution not found"}""", "Execution not found")]
    [InlineData("""{"detail":{"code":"pool_saturated","message":"Busy, retry"}}""", "Busy, retry (pool_saturated)")]
    [InlineData("""{"detail":[{"type":"missing","loc":["body","content"],"msg":"Field required"},{"loc":["body","x"],"msg":"bad"}]}""",
        "body.content: Field required; body.x: bad")]
    [InlineData("""{"error":"catalog entry not found","status":404}""", "catalog entry not found")]
    [InlineData("Detail: boom\n", "Detail: boom")]
    [InlineData("", "(empty response)")]
    public void Error_details_become_one_readable_line(string body, string expected) =>
        Assert.Equal(expected, ErrorDetail.Describe(body));

    [Theory]
    [InlineData("""{"status":"COMPLETED"}""", "COMPLETED")]
    [InlineData("""{"status":"cancelled","completed":true}""", "CANCELLED")]
    [InlineData("""{"status":"RUNNING","completed":false,"failed":false}""", null)]
    [InlineData("""{"completed":true,"failed":false}""", "COMPLETED")]
    [InlineData("""{"completed":true,"failed":true}""", "FAILED")]
    [InlineData("""{"completed":false}""", null)]
    public void Terminal_state_comes_from_status_or_the_flags(string document, string? expected) =>
        Assert.Equal(expected, ExecutionState.Terminal(JsonNode.Parse(document)));

    [Fact]
    public void An_event_line_shows_time_type_step_and_status()
    {
        var line = EventFormatter.Format(FakeExecution.Event(7, "call.error", "load", "FAILED", 1.25, "connection\nrefused"));

        Assert.Equal("2026-01-01 12:00:01.250  call.error             load                     FAILED  connection refused", line);
    }

    [Fact]
    public void Progress_numbers_steps_and_times_them_from_the_claim()
    {
        var progress = new StepProgress(2);
        var lines = new[]
        {
            FakeExecution.Event(1, "playbook.initialized", "examples/hello", "initialized", 0),
            FakeExecution.Event(2, "command.issued", "start", "PENDING", 0),
            FakeExecution.Event(3, "command.claimed", "start", "RUNNING", 1),
            FakeExecution.Event(4, "call.done", "start", "COMPLETED", 1.3),
            FakeExecution.Event(5, "command.completed", "start", "COMPLETED", 1.4),
            FakeExecution.Event(6, "command.issued", "shout", "PENDING", 2),
            FakeExecution.Event(7, "call.error", "shout", "FAILED", 4, "boom"),
            FakeExecution.Event(8, "command.failed", "shout", "FAILED", 4.1, "boom"),
            FakeExecution.Event(9, "command.issued", "end", "PENDING", 5),
        }.Select(progress.Apply).Where(l => l is not null).Select(l => l!.Text).ToList();

        Assert.Equal(
        [
            "[1/2] start ... started",
            "[1/2] start ... done (0.3s)",
            "[2/2] shout ... started",
            "[2/2] shout ... failed (2.0s): boom",
            "[3/3] end ... started",
        ], lines);
        Assert.Equal(3, progress.Total);
    }

    [Fact]
    public void The_live_line_names_the_running_step()
    {
        var progress = new StepProgress(3);
        progress.Apply(FakeExecution.Event(1, "command.claimed", "load", "RUNNING", 0));

        var line = progress.LiveLine(new DateTimeOffset(2026, 1, 1, 12, 0, 2, TimeSpan.Zero));

        Assert.EndsWith("[1/3] load ... 2.0s", line);
    }

    [Theory]
    [InlineData(0.26, "0.3s")]
    [InlineData(59.9, "59.9s")]
    [InlineData(125, "2m05s")]
    [InlineData(3725, "1h02m")]
    public void Durations_are_short(double seconds, string expected) =>
        Assert.Equal(expected, Durations.Format(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void Steps_are_counted_from_the_workflow_list()
    {
        var yaml = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: hello}\nworkflow:\n  - step: a\n    tool: {kind: noop}\n  - step: b\n";

        Assert.Equal(2, PlaybookFile.CountSteps(Encoding.UTF8.GetBytes(yaml)));
        Assert.Equal(0, PlaybookFile.CountSteps(Encoding.UTF8.GetBytes("workflow: [unclosed")));
        Assert.Equal(0, PlaybookFile.CountSteps(Encoding.UTF8.GetBytes("kind: Playbook")));
    }
}
