using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using NoEtl.Orchestration.Engine;
using NoEtl.Orchestration.Playbooks;

namespace NoEtl.Orchestration.Tests.Engine;

/// <summary>Timing assertions run alone: on a shared two-core machine, parallel tests would swamp the measurements.</summary>
[CollectionDefinition(nameof(Timing), DisableParallelization = true)]
public sealed class Timing;

[Collection(nameof(Timing))]
public class ScaleTests
{
    /// <summary>Guards the hot path: each event must cost roughly the same however long the log already is.</summary>
    [Fact]
    public void A_thousand_iteration_parallel_loop_stays_fast()
    {
        var items = new JsonArray(Enumerable.Range(0, 1000).Select(i => (JsonNode)i).ToArray());
        var execution = new ExecutionDriver("""
            apiVersion: noetl.io/v2
            kind: Playbook
            metadata: {name: scale}
            workflow:
              - step: start
                loop:
                  in: "{{ workload.items }}"
                  iterator: n
                  spec: {mode: parallel, max_in_flight: 20}
                tool: {kind: noop, value: "{{ n * 2 }}"}
                next: total
              - step: total
                tool: {kind: noop}
                input: {count: "{{ start.results | length }}"}
            """, new JsonObject { ["items"] = items });
        // Processor time, not wall time: the tests run alone (Timing), but the machine is shared with other work.
        var before = Process.GetCurrentProcess().TotalProcessorTime;
        for (var i = 0; i < 1000; i++)
        {
            var id = execution.OpenCommandOf("start");
            execution.CallDone(id, i);
            execution.Completed(id);
        }
        var spent = Process.GetCurrentProcess().TotalProcessorTime - before;

        Assert.Equal("""{"count":1000}""", execution.Commands.Last().Input.ToJsonString());
        Assert.True(spent < TimeSpan.FromSeconds(10), $"took {spent} of processor time");
    }

    /// <summary>Routing once walked the graph again for every arc it dispatched, so a wide fan-out cost quadratic time.</summary>
    [Fact]
    public void Deciding_a_step_with_ten_thousand_arcs_is_linear()
    {
        // Eight times the arcs: linear work takes about 8×, quadratic 64×. The bound, 24×, leaves a factor of three for
        // noise; a CI run once measured 14× for a 4× step with the whole process's processor time (GC threads included).
        var small = FanOutDecisionTime(2_500);
        var large = FanOutDecisionTime(20_000);
        Assert.True(large < small * 24, $"2,500 arcs took {small}, 20,000 took {large}");
    }

    /// <summary>The best of three decisions after <c>start</c>, whose inclusive arcs reach <paramref name="arcs"/> distinct steps, completed.</summary>
    private static TimeSpan FanOutDecisionTime(int arcs)
    {
        var yaml = new StringBuilder("apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: fan-out}\nworkflow:\n");
        yaml.Append("  - step: start\n    tool: {kind: noop}\n    next: {spec: {mode: inclusive}, arcs: [");
        yaml.AppendJoin(", ", Enumerable.Range(0, arcs).Select(i => $"{{step: s{i}}}")).Append("]}\n");
        for (var i = 0; i < arcs; i++)
            yaml.Append($"  - step: s{i}\n    tool: {{kind: noop}}\n");
        var execution = new ExecutionDriver(yaml.ToString(), limits: new PlaybookLimits { MaxSteps = arcs + 1, MaxArcs = arcs, MaxYamlNodes = 20 * arcs });
        var id = execution.OpenCommandOf("start");
        var done = new LoggedEvent(1, "call.done", "start", "COMPLETED", new JsonObject { ["command_id"] = id }, null, null, id, null);
        var state = execution.Folded(execution.Log.Count);
        state.Apply(done);

        var best = TimeSpan.MaxValue;
        for (var run = 0; run < 3; run++)
        {
            GC.Collect();
            // This thread's processor time: other test assemblies share the two cores, and the GC's own threads
            // would charge a collection of any earlier garbage to the decision.
            var before = ThreadProcessorTime();
            var decision = Orchestrator.Decide(execution.Playbook, state, done);
            var spent = ThreadProcessorTime() - before;
            Assert.Equal(arcs, decision.Emissions.Count);
            best = spent < best ? spent : best;
        }
        return best;
    }

    private static TimeSpan ThreadProcessorTime()
    {
        if (clock_gettime(ThreadCpuTimeClock, out var now) != 0)
            throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        return TimeSpan.FromTicks(now.Seconds * TimeSpan.TicksPerSecond + now.Nanoseconds / 100);
    }

    private const int ThreadCpuTimeClock = 3; // CLOCK_THREAD_CPUTIME_ID on Linux

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", SetLastError = false)]
    private static extern int clock_gettime(int clock, out TimeSpec time);
}
