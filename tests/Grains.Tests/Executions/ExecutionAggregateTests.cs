using System.Text.Json.Nodes;
using NoEtl.Grains.Catalog;
using CommandRecord = NoEtl.Grains.Commands.CommandRecord;
using CommandBody = NoEtl.Grains.Commands.CommandBody;
using NamePool = NoEtl.Grains.Commands.NamePool;
using NoEtl.Grains.Executions;
using NoEtl.Grains.Executions.Aggregate;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Security;
using NoEtl.Orchestration.Engine;
using NoEtl.Orchestration.Playbooks;

namespace NoEtl.Grains.Tests.Executions;

/// <summary>The execution's decisions without a database: what the grain would commit and answer for each call.</summary>
public sealed class ExecutionAggregateTests
{
    private const long ExecutionId = 42;

    private const string TwoSteps = """
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata:
          name: demo
          path: tests/demo
        workflow:
          - step: start
            tool: { kind: noop }
            next: [{ step: end }]
          - step: end
            tool: { kind: noop }
        """;

    private static readonly Caller Worker = new("worker-token", Caller.WorkerRole, SystemPlaybooks.UserPool, null);
    private static readonly Caller Operator = new("alice", Caller.OperatorRole, null, "POST /api/executions/{id}/cancel");
    private static readonly IReadOnlyCollection<string> NoSecrets = [];
    private static readonly IReadOnlyDictionary<string, JsonNode?> NothingReferenced = new Dictionary<string, JsonNode?>();

    private static readonly DateTime At = new(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);

    private sealed class CountingClock : ITurnClock
    {
        private long _next = 1000;

        public long NextId() => _next++;

        public DateTime UtcNow => At;
    }

    private readonly LeaseTokens _leases = new(KeyRing.Parse(Convert.ToBase64String(new byte[32])));

    private ExecutionAggregate Started(out long eventIdOfStart, ServerOptions? options = null)
    {
        var playbook = Playbook.Parse(PlaybookDocument.LoadYaml(TwoSteps)).Playbook!;
        var catalog = new CatalogPlaybook(7, "tests/demo", 1, "Playbook", playbook);
        var context = new AggregateContext(options ?? new ServerOptions(), _leases, "silo-1", new CountingClock());
        var start = ExecutionAggregate.Start(ExecutionId, catalog, new StartExecution("tests/demo", 7, 1, "{}", null), "tests/demo", 1,
            [], Caller.System, [], context);
        eventIdOfStart = start.Turn.NewCommands.Single().EventId;
        return start.Aggregate;
    }

    private StartDecision StartedTurn(out ExecutionAggregate execution)
    {
        var context = new AggregateContext(new ServerOptions(), _leases, "silo-1", new CountingClock());
        var start = ExecutionAggregate.Start(ExecutionId, Started(out _).Catalog, new StartExecution("tests/demo", 7, 1, "{}", null), "tests/demo", 1,
            [], Caller.System, [], context);
        execution = start.Aggregate;
        return start;
    }


    private static ClaimDecision Claim(ExecutionAggregate execution, long eventId, string workerId) =>
        execution.Claim(eventId, workerId, null, Worker, NoSecrets, At, holder: null);

    private static WorkerEvent CallDone(long commandId, string workerId, string? leaseToken = null) => new("start", "call.done",
        new JsonObject { ["command_id"] = commandId, ["result"] = new JsonObject { ["status"] = "ok", ["context"] = new JsonObject { ["n"] = 1 } } }
            .ToJsonString(),
        leaseToken is null ? null : new JsonObject { ["lease_token"] = leaseToken }.ToJsonString(), workerId, true, false);

    [Fact]
    public void A_claim_is_granted_once_and_a_second_worker_is_told_who_holds_it()
    {
        var execution = Started(out var eventId);

        var granted = Claim(execution, eventId, "w1");
        Assert.NotNull(granted.Reply.Value);
        Assert.Equal("command.claimed", Assert.Single(granted.Turn!.Events).EventType);
        Assert.Equal("CLAIMED", Assert.Single(granted.Turn.CommandChanges).Status);
        Assert.Equal(1, granted.Reply.Value.LeaseEpoch);

        var refused = Claim(execution, eventId, "w2");
        Assert.Equal(FailureKind.Conflict, refused.Reply.Failure?.Kind);
        Assert.Equal("active_claim", refused.Reply.Failure!.Code);
        Assert.Equal("w1", JsonNode.Parse(refused.Reply.Failure.Extra!.Json)!["worker_id"]!.GetValue<string>());
        Assert.Null(refused.Turn); // nothing is written for a refusal
    }

    [Fact]
    public void Events_of_a_command_come_only_from_its_claim_holder()
    {
        var execution = Started(out var eventId);
        var commandId = execution.Commands.Single().CommandId;
        Claim(execution, eventId, "w1");

        var intruder = execution.Append(CallDone(commandId, "w2"), Worker, NoSecrets, NothingReferenced);

        Assert.Equal(FailureKind.Conflict, intruder.Reply.Failure?.Kind);
        Assert.Equal("not_claim_holder", intruder.Reply.Failure!.Code);
        Assert.Null(intruder.Turn);
    }

    [Fact]
    public void A_lease_token_of_another_claim_is_refused()
    {
        var execution = Started(out var eventId);
        var commandId = execution.Commands.Single().CommandId;
        Claim(execution, eventId, "w1");
        var otherClaimsToken = _leases.Mint(ExecutionId, commandId, 7);

        var refused = execution.Append(CallDone(commandId, "w1", otherClaimsToken), Worker, NoSecrets, NothingReferenced);

        Assert.Equal(FailureKind.Conflict, refused.Reply.Failure?.Kind);
        Assert.Equal("lease_token_mismatch", refused.Reply.Failure!.Code);
        Assert.Null(refused.Turn);
    }

    [Fact]
    public void A_repeated_call_done_is_answered_with_the_first_event_and_writes_nothing()
    {
        var execution = Started(out var eventId);
        var commandId = execution.Commands.Single().CommandId;
        var token = Claim(execution, eventId, "w1").Reply.Value!.LeaseToken;

        var first = execution.Append(CallDone(commandId, "w1", token), Worker, NoSecrets, NothingReferenced);
        var repeat = execution.Append(CallDone(commandId, "w1", token), Worker, NoSecrets, NothingReferenced);

        Assert.Equal(1, first.Reply.Value!.CommandsGenerated); // the engine issued `end`
        Assert.Contains(first.Turn!.Events, e => e.EventType == "command.issued" && e.NodeName == "end");
        Assert.Null(repeat.Turn);
        Assert.Equal(first.Reply.Value.EventId, repeat.Reply.Value!.EventId);
        Assert.Equal(0, repeat.Reply.Value.CommandsGenerated);
    }

    [Fact]
    public void A_call_done_repeated_after_a_rebuild_is_answered_with_the_first_event()
    {
        var playbook = Started(out _).Catalog;
        var context = new AggregateContext(new ServerOptions(), _leases, "silo-1", new CountingClock());
        var start = ExecutionAggregate.Start(ExecutionId, playbook, new StartExecution("tests/demo", 7, 1, "{}", null), "tests/demo", 1,
            [], Caller.System, [], context);
        var execution = start.Aggregate;
        var commandId = execution.Commands.Single().CommandId;
        var claim = Claim(execution, start.Turn.NewCommands.Single().EventId, "w1");
        var first = execution.Append(CallDone(commandId, "w1"), Worker, NoSecrets, NothingReferenced);

        // The first-event index of the rebuilt aggregate comes from the log: the same retry must still find it.
        var rebuilt = ExecutionAggregate.Rebuild(ExecutionId, playbook, [.. start.Turn.Events, .. claim.Turn!.Events, .. first.Turn!.Events],
            execution.Commands, new NamePool(), NothingReferenced, new AggregateContext(new ServerOptions(), _leases, "silo-2", new CountingClock()));
        var repeat = rebuilt.Append(CallDone(commandId, "w1"), Worker, NoSecrets, NothingReferenced);

        Assert.Null(repeat.Turn);
        Assert.Equal(first.Reply.Value!.EventId, repeat.Reply.Value!.EventId);
    }

    private static WorkerEvent Reported(string name, string step, long commandId, string leaseToken) => new(step, name,
        new JsonObject { ["command_id"] = commandId, ["result"] = new JsonObject { ["status"] = "ok", ["context"] = new JsonObject { ["n"] = 1 } } }
            .ToJsonString(),
        new JsonObject { ["lease_token"] = leaseToken }.ToJsonString(), "w1", true, false);

    [Fact]
    public void A_finished_command_keeps_no_context_and_its_lookup_answers_the_same_shape_from_the_stored_row()
    {
        var start = StartedTurn(out var execution);
        var issued = start.Turn.NewCommands.Single();
        var token = Claim(execution, issued.EventId, "w1").Reply.Value!.LeaseToken;
        var running = execution.GetCommand(issued.EventId).Value!;
        Assert.Null(execution.CommandBodyToRead(issued.EventId));

        execution.Append(Reported("call.done", "start", issued.CommandId, token), Worker, NoSecrets, NothingReferenced);
        execution.Append(Reported("command.completed", "start", issued.CommandId, token), Worker, NoSecrets, NothingReferenced);

        var record = execution.Commands.Single(c => c.CommandId == issued.CommandId);
        Assert.False(record.HasBody); // only ids, status and epoch stay for fencing and de-duplication
        Assert.Equal(issued.CommandId, execution.CommandBodyToRead(issued.EventId));
        // What the grain reads from noetl.command: the row as issued.
        var finished = execution.GetCommand(issued.EventId, new CommandBody(issued.Context, issued.Meta)).Value!;
        Assert.Equal("COMPLETED", finished.Status);
        Assert.Equal((running.NodeId, running.NodeName, running.Action), (finished.NodeId, finished.NodeName, finished.Action));
        Assert.Equal(running.Context!.Json, finished.Context!.Json);
        Assert.Equal(running.Meta!.Json, finished.Meta!.Json);
        Assert.Equal(FailureKind.NotFound, execution.GetCommand(issued.EventId, stored: null).Failure?.Kind); // its row was purged
    }

    [Fact]
    public void Retries_for_a_long_finished_command_are_answered_with_the_first_events_also_after_a_rebuild()
    {
        var start = StartedTurn(out var execution);
        var issued = start.Turn.NewCommands.Single();
        var claim = Claim(execution, issued.EventId, "w1");
        var token = claim.Reply.Value!.LeaseToken;
        var log = new List<EventRow>([.. start.Turn.Events, .. claim.Turn!.Events]);
        var firsts = new Dictionary<string, long>();
        foreach (var (name, step) in new[] { ("command.started", "start"), ("call.done", "start"), ("step.exit", "elsewhere"), ("command.completed", "start") })
        {
            var accepted = execution.Append(Reported(name, step, issued.CommandId, token), Worker, NoSecrets, NothingReferenced);
            firsts[name] = accepted.Reply.Value!.EventId;
            log.AddRange(accepted.Turn!.Events);
        }
        // The next step runs to its end: the first command is long finished.
        var next = execution.Commands.Single(c => c.Step == "end");
        var nextToken = Claim(execution, next.EventId, "w1").Reply.Value!.LeaseToken;
        execution.Append(Reported("call.done", "end", next.CommandId, nextToken), Worker, NoSecrets, NothingReferenced);
        execution.Append(Reported("command.completed", "end", next.CommandId, nextToken), Worker, NoSecrets, NothingReferenced);

        // As noetl.command hands a finished command to a new activation: no context or meta.
        var row = new CommandRecord(issued.CommandId, issued.EventId, issued.Step, issued.ToolKind, null, null, 1) { Status = "COMPLETED", WorkerId = "w1" };
        var rebuilt = ExecutionAggregate.Rebuild(ExecutionId, execution.Catalog, log, [row], new NamePool(), NothingReferenced,
            new AggregateContext(new ServerOptions(), _leases, "silo-2", new CountingClock()));
        foreach (var aggregate in new[] { execution, rebuilt })
        {
            foreach (var (name, step) in new[] { ("command.started", "start"), ("call.done", "start"), ("step.exit", "elsewhere"), ("command.completed", "start") })
            {
                var repeat = aggregate.Append(Reported(name, step, issued.CommandId, token), Worker, NoSecrets, NothingReferenced);
                Assert.Null(repeat.Turn);
                Assert.Equal(firsts[name], repeat.Reply.Value!.EventId);
            }
            // The same name under another step is another event, as before.
            Assert.NotNull(aggregate.Append(Reported("step.exit", "start", issued.CommandId, token), Worker, NoSecrets, NothingReferenced).Turn);
        }
    }

    private const string LoopThenEnd = """
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata:
          name: loop
          path: tests/loop
        workflow:
          - step: each
            loop: {in: [a, b, c, d, e], iterator: x, spec: {mode: parallel}}
            tool: { kind: noop }
            next:
              arcs:
                - step: end
                  when: "{{ event.name == 'loop.done' }}"
          - step: end
            tool: { kind: noop }
            input: {results: "{{ each.results }}"}
        """;

    [Fact]
    public void Loop_results_keep_index_order_and_shape_across_a_rebuild_mid_loop()
    {
        var playbook = Playbook.Parse(PlaybookDocument.LoadYaml(LoopThenEnd)).Playbook!;
        var catalog = new CatalogPlaybook(8, "tests/loop", 1, "Playbook", playbook);
        var start = ExecutionAggregate.Start(ExecutionId, catalog, new StartExecution("tests/loop", 8, 1, "{}", null), "tests/loop", 1,
            [], Caller.System, [], new AggregateContext(new ServerOptions(), _leases, "silo-1", new CountingClock()));
        var execution = start.Aggregate;
        var log = new List<EventRow>(start.Turn.Events);
        var iterations = start.Turn.NewCommands.ToDictionary(c => (int)c.Meta["iteration_index"]!, c => c);
        var tokens = new Dictionary<int, string>();
        foreach (var (index, issued) in iterations)
        {
            var claim = Claim(execution, issued.EventId, "w1");
            tokens[index] = claim.Reply.Value!.LeaseToken;
            log.AddRange(claim.Turn!.Events);
        }
        // Iteration data of every kind, finished out of index order: an object, a string, null, a number, an array.
        var data = new JsonNode?[] { new JsonObject { ["n"] = 0, ["tags"] = new JsonArray("x") }, "one", null, 3.5, new JsonArray(1, 2) };
        WorkerEvent Done(int index) => new("each", "call.done",
            new JsonObject { ["command_id"] = iterations[index].CommandId, ["result"] = new JsonObject { ["status"] = "ok", ["context"] = new JsonObject { ["data"] = data[index]?.DeepClone() } } }
                .ToJsonString(), new JsonObject { ["lease_token"] = tokens[index] }.ToJsonString(), "w1", true, false);
        var finished = new[] { 3, 0 };
        foreach (var index in finished)
        {
            log.AddRange(execution.Append(Done(index), Worker, NoSecrets, NothingReferenced).Turn!.Events);
            log.AddRange(execution.Append(Reported("command.completed", "each", iterations[index].CommandId, tokens[index]), Worker, NoSecrets,
                NothingReferenced).Turn!.Events);
        }

        // A new activation mid-loop: noetl.command hands the finished iterations over without context or meta.
        var rows = iterations.Select(p => finished.Contains(p.Key)
            ? new CommandRecord(p.Value.CommandId, p.Value.EventId, "each", "noop", null, null, 1) { Status = "COMPLETED", WorkerId = "w1", ClaimedAt = At }
            : new CommandRecord(p.Value.CommandId, p.Value.EventId, "each", "noop", p.Value.Context, p.Value.Meta, 1) { Status = "CLAIMED", WorkerId = "w1", ClaimedAt = At });
        var rebuilt = ExecutionAggregate.Rebuild(ExecutionId, catalog, log, [.. rows], new NamePool(), NothingReferenced,
            new AggregateContext(new ServerOptions(), _leases, "silo-2", new CountingClock()));
        var turns = new[] { 4, 1, 2 }.Select(index => rebuilt.Append(Done(index), Worker, NoSecrets, NothingReferenced).Turn!).ToList();

        const string Shape = """{"results":[{"n":0,"tags":["x"]},"one",null,3.5,[1,2]],"stats":{"total":5,"success":5,"failed":0}""";
        var loopDone = turns[^1].Events.Single(e => e.EventType == "loop.done");
        Assert.Equal(Shape + ""","context":""" + Shape + "}}", loopDone.Context!["result"]!.ToJsonString());
        var end = turns[^1].NewCommands.Single(c => c.Step == "end");
        Assert.Equal("""{"results":[{"n":0,"tags":["x"]},"one",null,3.5,[1,2]]}""", end.Context["input"]!.ToJsonString());
    }

    [Fact]
    public void A_batch_that_completes_a_loop_takes_the_iterations_the_aggregate_forgot_from_the_log()
    {
        var playbook = Playbook.Parse(PlaybookDocument.LoadYaml(LoopThenEnd)).Playbook!;
        var start = ExecutionAggregate.Start(ExecutionId, new CatalogPlaybook(8, "tests/loop", 1, "Playbook", playbook),
            new StartExecution("tests/loop", 8, 1, "{}", null), "tests/loop", 1, [], Caller.System, [],
            new AggregateContext(new ServerOptions(), _leases, "silo-1", new CountingClock()));
        var execution = start.Aggregate;
        var enteredEventId = start.Turn.Events.Single(e => e.EventType == "step.enter").EventId;
        var iterations = start.Turn.NewCommands.ToDictionary(c => (int)c.Meta["iteration_index"]!, c => c);
        var tokens = iterations.ToDictionary(p => p.Key, p => Claim(execution, p.Value.EventId, "w1").Reply.Value!.LeaseToken);
        WorkerEvent Done(int index) => new("each", "call.done",
            new JsonObject { ["command_id"] = iterations[index].CommandId, ["result"] = new JsonObject { ["status"] = "ok", ["context"] = new JsonObject { ["data"] = index * 10 } } }
                .ToJsonString(), new JsonObject { ["lease_token"] = tokens[index] }.ToJsonString(), "w1", true, false);
        // As the grain does: each committed turn's iteration data is forgotten, and the log keeps each iteration's first finish.
        execution.ForgetLoggedIterations();
        var logged = new List<(int Index, EventRow Row)>();
        foreach (var index in new[] { 3, 0 })
        {
            logged.Add((index, execution.Append(Done(index), Worker, NoSecrets, NothingReferenced).Turn!.Events.Single(e => e.EventType == "call.done")));
            execution.Append(Reported("command.completed", "each", iterations[index].CommandId, tokens[index]), Worker, NoSecrets, NothingReferenced);
            execution.ForgetLoggedIterations();
        }

        // Three iterations are left: a batch of two finishing events cannot complete the loop, one of three (a retry among them) may.
        List<WorkerEvent> batch = [Done(4), Done(1), Done(4), Done(2)];
        Assert.Empty(execution.LoopsToRead(batch.Take(2)));
        Assert.Equal(new LoopFanOut("each", enteredEventId), Assert.Single(execution.LoopsToRead(batch)));
        var history = new Dictionary<string, IReadOnlyList<IterationFinish>> { ["each"] = ExecutionAggregate.IterationFinishes(logged, NothingReferenced) };
        var turn = execution.AppendBatch(batch, "w1", null, Worker, NoSecrets, NothingReferenced, 0, history).Turn!;

        const string Shape = """{"results":[0,10,20,30,40],"stats":{"total":5,"success":5,"failed":0}""";
        Assert.Equal(Shape + ""","context":""" + Shape + "}}", turn.Events.Single(e => e.EventType == "loop.done").Context!["result"]!.ToJsonString());
        Assert.Equal("""{"results":[0,10,20,30,40]}""", turn.NewCommands.Single(c => c.Step == "end").Context["input"]!.ToJsonString());
    }

    [Fact]
    public void A_cancel_with_cascade_owes_the_children_until_the_cascade_is_settled()
    {
        var execution = Started(out _);

        var cancel = execution.Cancel("stop", cascade: true, Operator);

        var row = Assert.Single(cancel.Turn!.Events);
        Assert.Equal("execution.cancelled", row.EventType);
        Assert.True(row.Meta!["cascade"]!.GetValue<bool>()); // the log records the debt: a new activation finds it
        Assert.Equal("CANCELLED", Assert.Single(cancel.Turn.CommandChanges).Status);
        Assert.Equal("CANCELLED", cancel.Turn.Execution!.Status);
        var audit = Assert.Single(cancel.Turn.Audit);
        Assert.Equal(("alice", "execution.cancel"), (audit.Principal, audit.Action));
        Assert.Equal("stop", execution.OwedCascade);
        Assert.False(execution.HasCommandsInFlight);

        var reply = execution.CancelReply(cancel, ["43"]);
        Assert.Equal("cancelled", reply.Status);
        Assert.Equal(["42", "43"], reply.CancelledExecutions);

        execution.CascadeSettled();
        Assert.Null(execution.OwedCascade);
        var again = execution.Cancel("once more", cascade: true, Operator);
        Assert.True(again.AlreadyFinished);
        Assert.Null(again.Turn);
        Assert.Equal("once more", execution.OwedCascade); // a repeated cancel runs the cascade again: an earlier one may have failed
        Assert.Equal("already_completed", execution.CancelReply(again, []).Status);
    }

    [Fact]
    public void A_cancel_without_cascade_owes_nothing()
    {
        var execution = Started(out _);

        execution.Cancel("stop", cascade: false, Operator);

        Assert.Null(execution.OwedCascade);
    }

    [Fact]
    public void The_owed_cascade_survives_a_rebuild_from_the_log()
    {
        var execution = Started(out _);
        var playbook = execution.Catalog;
        var start = ExecutionAggregate.Start(ExecutionId, playbook, new StartExecution("tests/demo", 7, 1, "{}", null), "tests/demo", 1,
            [], Caller.System, [], new AggregateContext(new ServerOptions(), _leases, "silo-1", new CountingClock()));
        var cancel = start.Aggregate.Cancel("stop", cascade: true, Operator);

        var rebuilt = ExecutionAggregate.Rebuild(ExecutionId, playbook, [.. start.Turn.Events, .. cancel.Turn!.Events], [], new NamePool(),
            NothingReferenced, new AggregateContext(new ServerOptions(), _leases, "silo-2", new CountingClock()));

        Assert.Equal("stop", rebuilt.OwedCascade);
        Assert.Equal("CANCELLED", rebuilt.StatusText);
    }
}
