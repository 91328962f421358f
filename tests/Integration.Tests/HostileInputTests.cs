using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using NoEtl.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace NoEtl.Integration.Tests;

/// <summary>A silo of its own, so the memory it holds and the lines it logs belong to these tests only.</summary>
public sealed class HostileSystemFixture : IAsyncLifetime
{
    public NoEtlSystem System { get; private set; } = null!;

    public async Task InitializeAsync() => System = await NoEtlSystem.StartAsync();

    public async Task DisposeAsync() => await System.DisposeAsync();
}

/// <summary>The hostile inputs of issue 14 against a running system: each costs a bounded amount and the silo stays up.</summary>
public sealed class HostileInputTests(HostileSystemFixture fixture, ITestOutputHelper output) : IClassFixture<HostileSystemFixture>
{
    // Accepted playbooks are registered in the first round only: every version stays in the silo's playbook cache.
    private readonly Dictionary<string, string> _registered = [];

    private HttpClient Http => fixture.System.Http;

    [Theory]
    [InlineData("\n")]
    [InlineData("\r")]
    [InlineData("\r\n")]
    public async Task A_line_break_in_a_playbook_path_cannot_forge_a_silo_log_line(string lineBreak)
    {
        var marker = Guid.NewGuid().ToString("N");
        var path = $"tests/forge_{marker}{lineBreak}FAKE {marker}: forged line";
        var yamlPath = "\"" + path.Replace("\r", "\\r").Replace("\n", "\\n") + "\"";
        await Http.Register(Playbooks.OneStep(yamlPath));
        await Http.Execute(path);

        var silo = fixture.System.Silos[0];
        await Eventually.WaitForAsync(() => Task.FromResult(silo.Output.Contains($"forge_{marker}")), "the start logged");
        // The process output is split at \r and \n, as a log collector would split it.
        var lines = silo.Output.Split('\n', '\r');
        Assert.DoesNotContain(lines, line => line.TrimStart().StartsWith($"FAKE {marker}", StringComparison.Ordinal));
        Assert.Contains(LogEscaped(lineBreak) + $"FAKE {marker}: forged line", silo.Output);
    }

    [Fact]
    public async Task The_silo_answers_every_hostile_input_and_stays_up_with_bounded_memory()
    {
        var silo = fixture.System.Silos[0];
        await HonestRun();
        var started = ResidentBytes(silo.Pid);

        using var stop = new CancellationTokenSource();
        var probes = ProbeHealth(stop.Token);
        // The first round warms up what each input touches once (parsers, regexes, pools); the second must then hold
        // no more: growth is what a repeated attack would accumulate.
        var first = await HostileRound("first");
        var afterFirst = ResidentBytes(silo.Pid);
        var second = await HostileRound("second");
        await Task.Delay(TimeSpan.FromSeconds(3));
        var afterSecond = ResidentBytes(silo.Pid);
        await stop.CancelAsync();
        var (maxLatency, failures, count) = await probes;

        var answers = string.Join("\n", first.Concat(second));
        output.WriteLine($"{answers}\nRSS {Mb(started)} / {Mb(afterFirst)} / {Mb(afterSecond)} MB; {count} probes, slowest {maxLatency.TotalMilliseconds:F0} ms");
        Assert.True(first.Concat(second).All(a => a.Status is >= 400 and < 500 || a.Status == 200), answers);
        Assert.True(!silo.HasExited, "the silo exited:\n" + silo.Tail());
        Assert.True(failures == 0 && maxLatency < TimeSpan.FromSeconds(1),
            $"{count} health probes, {failures} failed, slowest {maxLatency.TotalMilliseconds:F0} ms");
        // 20% of the size after the first round, plus 64 MiB: the execution grains of the round stay activated until
        // Orleans collects idle ones, and the runtime keeps freed heap between collections. Measured here: the first
        // round adds ~90 MB (one-time), later rounds level off ~60 MB above it. A leak of one input's work (the
        // 100 MB string is 200 MB of UTF-16; 3000 x 3000 iterations; the expanded YAML) would be far past the bound.
        const long Slack = 64L << 20;
        Assert.True(afterSecond <= (afterFirst * 1.2) + Slack,
            $"RSS {Mb(started)} MB after an honest run, {Mb(afterFirst)} MB after one hostile round, {Mb(afterSecond)} MB after two\n{answers}");
    }

    private sealed record Answer(string Input, int Status, string Detail)
    {
        public override string ToString() => $"{Input}: {Status} {Detail}";
    }

    /// <summary>Sends each hostile input once; an execution that starts must end FAILED (its template is over budget).</summary>
    private async Task<List<Answer>> HostileRound(string round)
    {
        var answers = new List<Answer>();
        async Task<string?> Register(string input, string yaml)
        {
            if (_registered.TryGetValue(input, out var registered))
                return registered;
            var content = Convert.ToBase64String(Encoding.UTF8.GetBytes(yaml));
            var response = await Http.Post("/api/catalog/register", new { content, resource_type = "Playbook" });
            answers.Add(new Answer($"{round} register {input}", (int)response.Status, Clip(response.Text)));
            if (response.Status != HttpStatusCode.OK)
                return null;
            return _registered[input] = response.Json["path"]!.GetValue<string>();
        }
        async Task<long?> Execute(string input, string path)
        {
            var response = await Http.Post("/api/execute", new { path, resource_kind = "playbook" });
            answers.Add(new Answer($"{round} execute {input}", (int)response.Status, Clip(response.Text)));
            return response.Status == HttpStatusCode.OK ? long.Parse(response.Json["execution_id"]!.GetValue<string>()) : null;
        }
        async Task RunFailing(string input, string yaml)
        {
            if (await Register(input, yaml) is { } path && await Execute(input, path) is { } executionId)
            {
                var status = await Http.WaitTerminalAsync(executionId);
                Assert.True(status["status"]!.GetValue<string>() == "FAILED", $"{input}: {status.ToJsonString()}");
            }
        }
        async Task FinishStart(string input, long executionId, JsonObject result)
        {
            var claim = await Http.Claim((await new SimulatedWorker(Http, "hostile").PendingCommandEventsAsync(executionId)).Single(), "hostile");
            var done = await Http.Event(executionId, "start", "call.done", new JsonObject
            {
                ["command_id"] = claim.Json["meta"]!["command_id"]!.GetValue<long>(),
                ["result"] = new JsonObject { ["status"] = "COMPLETED", ["context"] = result },
            }, "hostile", new JsonObject { ["lease_token"] = claim.Json["lease_token"]?.DeepClone() });
            answers.Add(new Answer($"{round} call.done of {input}", (int)done.Status, Clip(done.Text)));
        }

        var laughs = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + string.Concat("bcdefghi".Select((name, i) =>
            $"{name}: &{name} [{string.Join(",", Enumerable.Repeat("*" + "abcdefghi"[i], 9))}]\n"));
        await Register("billion laughs", Header("laughs") + laughs);
        await Register("flow nesting 30000", Header("flow") + "x: " + new string('[', 30_000) + new string(']', 30_000) + "\n" + OneStep);
        await Register("10000 parentheses", Header("parens") + Step("{{ " + new string('(', 10_000) + "1" + new string(')', 10_000) + " }}"));
        await Register("30000 nested ifs", Header("ifs") + Step(Repeat("{% if true %}", 30_000) + "x" + Repeat("{% endif %}", 30_000)));
        await RunFailing("100 MB string", Header("big") + Step("{{ ('x' * 100000000) | length }}"));
        await RunFailing("3000 x 3000 loops",
            Header("loops") + $"workload:\n  items: [{string.Join(",", Enumerable.Range(0, 3000))}]\n"
            + Step("{% for a in workload.items %}{% for b in workload.items %}{% endfor %}{% endfor %}"));

        // 10,000 arcs over the step limit's worth of targets, each with a condition: routing start evaluates them all.
        var arcs = new StringBuilder(Header("arcs")).Append("workflow:\n  - step: start\n    tool: {kind: noop}\n    next: {spec: {mode: inclusive}, arcs: [");
        arcs.AppendJoin(", ", Enumerable.Range(0, 10_000).Select(i => $"{{step: s{i % 900}, when: \"{{{{ {i} < 0 }}}}\"}}")).Append("]}\n");
        for (var i = 0; i < 900; i++)
            arcs.Append($"  - step: s{i}\n    tool: {{kind: noop}}\n");
        if (await Register("10000 arcs", arcs.ToString()) is { } arcsPath && await Execute("10000 arcs", arcsPath) is { } arcsExecution)
        {
            await FinishStart("10000 arcs", arcsExecution, []);
            Assert.Equal("COMPLETED", (await Http.WaitTerminalAsync(arcsExecution))["status"]!.GetValue<string>());
        }

        // A result string scanned by the redactor on write and on read: many near-credentials, none complete. It stays just
        // under the inline cap (a larger inline result is refused with 413 before anything scans it).
        var text = Repeat("Basic QUFB a://b:@ token=", 4_000);
        var textExecution = await Http.Execute(await Register("text", Header("text") + OneStep) ?? throw new InvalidOperationException("not registered"));
        await FinishStart($"a {text.Length}-character result", textExecution, new JsonObject { ["text"] = text });
        var read = await Http.Get($"/api/executions/{textExecution}?page_size=500");
        answers.Add(new Answer($"{round} read of a {text.Length}-character result", (int)read.Status, Clip(read.Text)));
        return answers;
    }

    private async Task HonestRun()
    {
        const string Path = "tests/hostile_honest";
        await Http.Register(Playbooks.OneStep(Path));
        var status = await new SimulatedWorker(Http, "honest").RunToCompletionAsync(await Http.Execute(Path), _ => new JsonObject { ["ok"] = true });
        Assert.Equal("COMPLETED", status["status"]!.GetValue<string>());
    }

    /// <summary>Polls the gateway's health route (which asks the silo) every 200 ms until cancelled.</summary>
    private async Task<(TimeSpan Max, int Failures, int Count)> ProbeHealth(CancellationToken stop)
    {
        using var probe = new HttpClient { BaseAddress = new Uri(fixture.System.GatewayUrl), Timeout = TimeSpan.FromSeconds(5) };
        var max = TimeSpan.Zero;
        var failures = 0;
        var count = 0;
        while (!stop.IsCancellationRequested)
        {
            var watch = Stopwatch.StartNew();
            try
            {
                using var response = await probe.GetAsync("/api/health", CancellationToken.None);
                if (response.StatusCode != HttpStatusCode.OK)
                    failures++;
            }
            catch (HttpRequestException)
            {
                failures++;
            }
            catch (TaskCanceledException)
            {
                failures++;
            }
            max = watch.Elapsed > max ? watch.Elapsed : max;
            count++;
            try
            {
                await Task.Delay(200, stop);
            }
            catch (TaskCanceledException)
            {
                break;
            }
        }
        return (max, failures, count);
    }

    private static long ResidentBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }

    private static string Header(string name) => $"apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  name: hostile_{name}\n  path: tests/hostile_{name}\n";

    private const string OneStep = "workflow:\n  - step: start\n    tool: {kind: noop}\n";

    private static string Step(string template) =>
        $"workflow:\n  - step: start\n    tool: {{kind: noop, x: \"{template.Replace("\"", "\\\"")}\"}}\n";

    private static string Repeat(string text, int count) => string.Concat(Enumerable.Repeat(text, count));

    private static string LogEscaped(string lineBreak) => lineBreak.Replace("\r", "\\r").Replace("\n", "\\n");

    private static string Clip(string text) => text.Length > 200 ? text[..200] + "…" : text;

    private static long Mb(long bytes) => bytes >> 20;
}
