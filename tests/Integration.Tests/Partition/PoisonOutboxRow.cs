using System.Net;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Faults;
using NoEtl.Integration.Tests.Infrastructure;

namespace NoEtl.Integration.Tests.Partition;

/// <summary>
/// Scenario 6: a poison outbox row that kills every publisher before it can mark-failed. Publishers (two at a time,
/// one per gateway, each a loop of the internal claim / mark-published calls) drain the outbox from shortly before
/// the fault; the fault starts one execution whose second command's notification is the poison: a publisher whose
/// claim holds it dies without reporting anything and a new one takes its place. Each reclaim after the visibility
/// timeout counts as an attempt, so at the cap the row goes DEAD. Settling waits until every other row is published
/// and checks the dead letters the internal API lists: the poison row alone, after exactly the cap of claims. Rows a
/// crashed publisher abandoned beside it are reclaimed one per claim, so they are published, not dead-lettered with it.
/// </summary>
public sealed class PoisonOutboxRow(PartitionCluster cluster, string path, int maxAttempts, Action<string> log) : IScenarioWork
{
    private const string Bearer = "Bearer " + NoEtlSystem.InternalToken;
    private const string PoisonStep = "s1";

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _publishers = [];
    private long _poisonExecution;
    private Task<IReadOnlyList<long>>? _victim;
    private int _crashes;

    public TimeSpan Lead => TimeSpan.FromSeconds(5);

    public Task PrepareAsync()
    {
        for (var i = 0; i < cluster.Gateways.Count; i++)
            _publishers.Add(PublishAsync(cluster.Gateways[i]));
        return Task.CompletedTask;
    }

    /// <summary>The fault: the execution whose <see cref="PoisonStep"/> notification crashes publishers, driven by a simulated worker.</summary>
    public async Task InjectAsync()
    {
        var gateway = cluster.Gateways[0];
        var started = await gateway.Post("/api/execute", new { path, workload = new { poison = true }, resource_kind = "playbook" });
        Assert.Equal(HttpStatusCode.OK, started.Status);
        var executionId = long.Parse(started.Json["execution_id"]!.GetValue<string>());
        Interlocked.Exchange(ref _poisonExecution, executionId);
        _victim = Task.Run(async () =>
        {
            await new LoadDriver(cluster.Gateways, TimeSpan.Zero).RunAsync([executionId], workers: 1, DateTime.UtcNow.AddSeconds(120));
            return (IReadOnlyList<long>)[executionId];
        });
    }

    public async Task<IReadOnlyList<long>> SettleAsync()
    {
        var system = cluster.System;
        var poison = Interlocked.Read(ref _poisonExecution);
        await Eventually.WaitForAsync(async () => await system.AdminCountAsync(
                "SELECT count(*) FROM noetl.outbox WHERE execution_id = $1 AND payload->>'step' = $2 AND status = 'DEAD'", poison, PoisonStep) > 0,
            "the poison row dead-lettered", TimeSpan.FromSeconds(90));
        await Eventually.WaitForAsync(async () => await system.AdminCountAsync(
                "SELECT count(*) FROM noetl.outbox WHERE status NOT IN ('PUBLISHED', 'DEAD')") == 0,
            "every other row published", TimeSpan.FromSeconds(90));
        await _stop.CancelAsync();
        await Task.WhenAll(_publishers);

        var dead = await cluster.Gateways[1].Send(HttpMethod.Get, "/api/internal/outbox/dead?limit=1000", bearer: Bearer);
        Assert.Equal(HttpStatusCode.OK, dead.Status);
        var items = dead.Json["items"]!.AsArray();
        var row = Assert.Single(items)!;
        Assert.Equal(poison, row["execution_id"]!.GetValue<long>());
        Assert.Equal(maxAttempts, row["attempts"]!.GetValue<int>());
        Assert.StartsWith("visibility timeout", row["last_error"]!.GetValue<string>());
        Assert.True(_crashes >= maxAttempts, $"{_crashes} publisher crashes, cap {maxAttempts}");
        log($"poison row DEAD after {maxAttempts} claims ({_crashes} publishers crashed); no other row dead-lettered");
        return await _victim!;
    }

    /// <summary>A publisher's life: claims and publishes until its claim holds the poison row, then it dies and the next one starts.</summary>
    private async Task PublishAsync(HttpClient gateway)
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var claim = await gateway.Send(HttpMethod.Post, "/api/internal/outbox/claim", new { limit = 200, wait_ms = 1000 }, bearer: Bearer);
                if (claim.Status != HttpStatusCode.OK)
                    continue;
                var rows = claim.Json["rows"]!.AsArray();
                if (rows.Any(IsPoison))
                {
                    Interlocked.Increment(ref _crashes); // dies holding the whole claim: nothing reported
                    continue;
                }
                if (rows.Count > 0)
                    await gateway.Send(HttpMethod.Post, "/api/internal/outbox/mark-published",
                        new { outbox_ids = rows.Select(r => r!["outbox_id"]!.GetValue<long>()).ToArray() }, bearer: Bearer);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                await Task.Delay(200); // a gateway or silo in trouble: try again, as a restarted publisher would
            }
        }
    }

    private bool IsPoison(JsonNode? row) =>
        row!["execution_id"]?.GetValue<long>() == Interlocked.Read(ref _poisonExecution) && row["payload"]?["step"]?.GetValue<string>() == PoisonStep;
}
