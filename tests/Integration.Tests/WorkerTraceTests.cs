using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests;

/// <summary>NATS, a silo, the gateway and a system-pool worker, all exporting spans to an in-test OTLP receiver.</summary>
public sealed class TracedWorkerFixture : IAsyncLifetime
{
    public OtlpReceiver Receiver { get; } = new();

    public NoEtlSystem System { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var tracing = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Receiver.Url,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        };
        System = await NoEtlSystem.StartAsync(withNats: true, siloSettings: tracing, gatewaySettings: tracing);
        // The system pool runs system/* playbooks and publishes the outbox: one worker covers the whole path.
        await System.StartWorkerAsync("system", "system-worker-traced", tracing);
    }

    public async Task DisposeAsync()
    {
        await System.DisposeAsync();
        await Receiver.DisposeAsync();
    }
}

public sealed class WorkerTraceTests(TracedWorkerFixture fixture) : IClassFixture<TracedWorkerFixture>
{
    [Fact]
    public async Task The_worker_continues_the_trace_into_the_gateway_and_the_grain()
    {
        var http = fixture.System.Http;
        // System paths are the server's: the silo registered its cleanup playbook, which runs on the system pool.
        var executionId = await http.Execute("system/scheduled_cleanup");
        var status = await http.WaitTerminalAsync(executionId);
        Assert.True("COMPLETED" == status["status"]!.GetValue<string>(), $"{status.ToJsonString()}\n{fixture.System.Logs()}");

        var id = executionId.ToString();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var spans = fixture.Receiver.Spans.ToArray();
            // The worker's command span, and in its trace the gateway's claim request and the grain's claim turn.
            var joined = spans
                .Where(s => s.Service == "noetl-worker" && s.Attributes.GetValueOrDefault("execution_id") == id)
                .Any(command => spans.Any(s => s.TraceId == command.TraceId && s.Service == "noetl-gateway"
                        && s.Attributes.GetValueOrDefault("http.route") == "/api/commands/{eventId}/claim")
                    && spans.Any(s => s.TraceId == command.TraceId && s.Service == "noetl-silo"
                        && s.Attributes.GetValueOrDefault("execution_id") == id && s.Attributes.ContainsKey("command_id")));
            if (joined)
                return;
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"no worker trace joins gateway and grain for {id} among {spans.Length} spans:\n" +
                    string.Join('\n', spans.TakeLast(40).Select(s => $"{s.Service} {s.Scope} {s.Name} trace={s.TraceId[..8]} {string.Join(',', s.Attributes.Select(a => a.Key + "=" + a.Value))}")));
            await Task.Delay(250);
        }
    }
}
