using System.Text.Json.Nodes;
using NoEtl.Grains.Commands;
using NoEtl.Grains.Hosting;
using NoEtl.Grains.Security;

namespace NoEtl.Grains.Tests.Commands;

public sealed class EventBindingTests
{
    private const long ExecutionId = 100;
    private static readonly LeaseTokens Leases = new(KeyRing.Parse(Convert.ToBase64String(new byte[32])));
    private static readonly ServerOptions Lenient = new();
    private static readonly ServerOptions Strict = new() { RequireLeaseToken = true };

    private static CommandRecord Held(string? holder = "w1", int epoch = 1) =>
        new(7, 70, "start", "python", [], [], 1) { WorkerId = holder, Status = holder is null ? "PENDING" : "CLAIMED", LeaseEpoch = epoch };

    private static WorkerEvent Event(string name, string? worker = "w1") => new("start", name, "{}", null, worker, true, true);

    private static Failure? Check(CommandRecord command, string name, string? worker = "w1", JsonObject? meta = null, ServerOptions? options = null) =>
        EventBinding.CheckHolder(command, Event(name, worker), meta, [], ExecutionId, Leases, options ?? Lenient);

    private static string? Code(Failure? refusal) => refusal?.Code;

    [Theory]
    [InlineData("command.started")]
    [InlineData("call.done")]
    [InlineData("call.error")]
    [InlineData("command.completed")]
    [InlineData("command.failed")]
    [InlineData("step.exit")]
    public void Lifecycle_events_come_only_from_the_claim_holder(string name)
    {
        Assert.Null(Check(Held(), name));
        Assert.Equal("not_claim_holder", Code(Check(Held(), name, worker: "intruder")));
        Assert.Equal("not_claim_holder", Code(Check(Held(), name, worker: null)));
        Assert.Equal("not_claim_holder", Code(Check(Held(holder: null), name)));
    }

    [Fact]
    public void Informative_events_about_a_command_need_no_claim()
    {
        Assert.Null(Check(Held(holder: null), "progress.update", worker: "someone"));
    }

    [Fact]
    public void An_echoed_lease_token_must_be_the_current_claims()
    {
        var command = Held(epoch: 2);
        Assert.Null(Check(command, "call.done", meta: new JsonObject { ["lease_token"] = Leases.Mint(ExecutionId, 7, 2) }));
        Assert.Equal("lease_token_mismatch", Code(Check(command, "call.done", meta: new JsonObject { ["lease_token"] = Leases.Mint(ExecutionId, 7, 1) })));
        Assert.Equal("lease_token_mismatch", Code(Check(command, "call.done", meta: new JsonObject { ["lease_token"] = "lt1.guess" })));
    }

    [Fact]
    public void Strict_mode_requires_the_token_lenient_mode_accepts_workers_that_do_not_know_it()
    {
        Assert.Null(Check(Held(), "call.done"));
        Assert.Equal("lease_token_required", Code(Check(Held(), "call.done", options: Strict)));
        Assert.Null(Check(Held(), "call.done", meta: new JsonObject { ["lease_token"] = Leases.Mint(ExecutionId, 7, 1) }, options: Strict));
    }

    [Fact]
    public void Events_of_an_older_epoch_are_stale()
    {
        Assert.Equal("stale_lease", Code(Check(Held(epoch: 3), "call.done", meta: new JsonObject { ["lease_epoch"] = 2 })));
    }

    [Theory]
    [InlineData("call.done", true)]
    [InlineData("command.completed", true)]
    [InlineData("playbook.completed", true)]
    [InlineData("workflow.failed", true)]
    [InlineData("execution.cancelled", true)]
    [InlineData("step.enter", true)]
    [InlineData("ctx.updated", true)]
    [InlineData("mirror.projected", false)]
    [InlineData("worker.log", false)]
    public void Events_without_a_command_may_not_take_a_type_the_engine_acts_on(string name, bool refused)
    {
        Assert.Equal(refused, EventBinding.CheckUnbound(name) is not null);
    }

    [Fact]
    public void A_worker_writes_only_into_executions_of_its_own_pool()
    {
        Assert.Null(EventBinding.CheckPool(new Caller("p", Caller.WorkerRole, "shared", null), "shared", 1));
        Assert.Equal("wrong_pool", Code(EventBinding.CheckPool(new Caller("p", Caller.WorkerRole, "shared", null), "system", 1)));
        Assert.Null(EventBinding.CheckPool(new Caller("dev", "development", null, null), "system", 1));
    }
}
