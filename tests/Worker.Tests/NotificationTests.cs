using System.Text;
using NoEtl.Worker.Commands;

namespace NoEtl.Worker.Tests;

public class NotificationTests
{
    [Fact]
    public void Parses_python_server_notification_with_int_command_id()
    {
        var n = CommandNotification.Parse(Encoding.UTF8.GetBytes(
            """{"execution_id":612345678000000001,"event_id":612345678901234567,"command_id":612345678901234999,"step":"fetch","server_url":"http://s:8082"}"""));
        Assert.NotNull(n);
        Assert.Equal(612345678000000001, n.ExecutionId);
        Assert.Equal(612345678901234567, n.EventId);
        Assert.Equal("612345678901234999", n.CommandId);
        Assert.Equal("fetch", n.Step);
        Assert.Equal("http://s:8082", n.ServerUrl);
    }

    [Fact]
    public void Parses_rust_server_notification_with_string_command_id()
    {
        var n = CommandNotification.Parse(Encoding.UTF8.GetBytes(
            """{"execution_id":1,"event_id":2,"command_id":"1:fetch:2","step":"fetch","server_url":"http://s"}"""));
        Assert.Equal("1:fetch:2", n!.CommandId);
    }

    [Fact]
    public void Reads_through_the_nats_serializer_with_snake_case()
    {
        var buffer = new System.Buffers.ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("""{"execution_id":5,"event_id":6,"command_id":7,"step":"s","server_url":"u"}"""));
        var n = CommandNotification.Serializer.Deserialize(buffer);
        Assert.Equal(new CommandNotification(5, 6, "7", "s", "u"), n);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"execution_id":1,"step":"s"}""")]
    [InlineData("""{"execution_id":1,"event_id":2,"command_id":{"x":1}}""")]
    public void Rejects_unusable_payloads(string payload) =>
        Assert.Null(CommandNotification.Parse(Encoding.UTF8.GetBytes(payload)));
}
