using System.Text.Json.Nodes;
using NoEtl.Grains.Executions;

namespace NoEtl.Grains.Tests;

public sealed class WorkerEventsTests
{
    [Theory]
    [InlineData("call.error", "FAILED")]
    [InlineData("command.failed", "FAILED")]
    [InlineData("call.done", "COMPLETED")]
    [InlineData("step.exit", "COMPLETED")]
    [InlineData("command.completed", "COMPLETED")]
    [InlineData("command.started", "RUNNING")]
    [InlineData("command.heartbeat", "RUNNING")]
    public void Status_comes_from_the_event_name(string name, string status) => Assert.Equal(status, WorkerEvents.StatusFromName(name));

    [Theory]
    [InlineData("""{"command_id": 7}""", 7L)]
    [InlineData("""{"command_id": "8"}""", 8L)]
    [InlineData("""{"context": {"command_id": 9}}""", 9L)]
    [InlineData("""{"result": {"context": {"command_id": "10"}}}""", 10L)]
    [InlineData("""{"command_id": "exec:step:1"}""", null)]
    public void Command_id_is_the_first_numeric_id(string payload, long? expected) =>
        Assert.Equal(expected, WorkerEvents.CommandId(JsonNode.Parse(payload)!.AsObject(), null));

    [Fact]
    public void Meta_command_id_is_used_when_the_payload_has_none() =>
        Assert.Equal(11L, WorkerEvents.CommandId([], new JsonObject { ["command_id"] = 11 }));

    [Theory]
    [InlineData("""{"result": {"status": "ok", "context": {}}}""", null)]
    [InlineData("""{"_internal_data": 1}""", "_internal_data")]
    [InlineData("""{"result": [1]}""", "must be an object")]
    [InlineData("""{"result": {"data": 1}}""", "may only contain")]
    [InlineData("""{"result": {"context": "text"}}""", "result.context must be an object")]
    public void Reference_only_rules(string payload, string? problem)
    {
        var message = WorkerEvents.Validate(JsonNode.Parse(payload)!.AsObject());
        if (problem is null)
            Assert.Null(message);
        else
            Assert.Contains(problem, message);
    }

    [Theory]
    [InlineData("ok", "COMPLETED")]
    [InlineData("SUCCESS", "COMPLETED")]
    [InlineData("error", "FAILED")]
    [InlineData("RUNNING", "RUNNING")]
    public void Stored_result_status_is_normalized(string status, string expected)
    {
        var payload = new JsonObject
        {
            ["result"] = new JsonObject { ["status"] = status, ["context"] = new JsonObject { ["a"] = 1 }, ["command_id"] = 3 },
        };
        var result = WorkerEvents.BuildResult(payload, "COMPLETED")!;
        Assert.Equal(expected, result["status"]!.GetValue<string>());
        Assert.Equal(1, result["context"]!["a"]!.GetValue<int>());
        Assert.False(result.ContainsKey("command_id")); // the stored shape has status, reference, context only
    }

    [Fact]
    public void Errors_are_taken_from_payload_or_result_and_truncated()
    {
        Assert.Equal("boom", WorkerEvents.Error(JsonNode.Parse("""{"error": {"message": "boom"}}""")!.AsObject()));
        Assert.Equal("bad", WorkerEvents.Error(JsonNode.Parse("""{"result": {"error": "bad"}}""")!.AsObject()));
        Assert.Equal(2000, WorkerEvents.Error(new JsonObject { ["error"] = new string('x', 5000) })!.Length);
    }

    [Theory]
    [InlineData("result", 102_300, false)]
    [InlineData("result", 102_500, true)]
    [InlineData("response", 102_500, true)]
    [InlineData("other", 500_000, false)]
    public void An_inline_result_over_the_cap_is_refused_with_a_pointer_to_the_result_store(string field, int length, bool refused)
    {
        var value = new JsonObject { ["blob"] = new string('x', length) };
        var payload = field == "result"
            ? new JsonObject { ["result"] = new JsonObject { ["status"] = "ok", ["context"] = value } }
            : new JsonObject { [field] = value };
        var message = WorkerEvents.InlineTooLarge(payload.ToJsonString(), payload);
        Assert.Equal(refused, message is not null);
        if (refused)
            Assert.Contains("PUT /api/result/{execution_id}", message);
    }

    [Theory]
    [InlineData("""{"result": {"status": "ok", "reference": {"kind": "result_ref", "ref": "noetl://execution/1/result/a/b"}}}""", "noetl://execution/1/result/a/b")]
    [InlineData("""{"result": {"status": "ok", "reference": {"ref": "noetl://execution/1/result/a/b", "store": "postgres"}}}""", "noetl://execution/1/result/a/b")]
    [InlineData("""{"result": {"status": "ok", "reference": {"kind": "artifact", "ref": "s3://x"}}}""", null)]
    [InlineData("""{"result": {"status": "ok", "context": {}}}""", null)]
    public void A_result_store_reference_is_recognised(string payload, string? reference) =>
        Assert.Equal(reference, WorkerEvents.ResultRef(JsonNode.Parse(payload)!.AsObject()));
}
