using System.Diagnostics;
using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Tests.Engine;

public class ScaleTests
{
    /// <summary>Guards the hot path: each event must cost roughly the same however long the log already is.</summary>
    [Fact]
    public void A_thousand_iteration_parallel_loop_stays_fast()
    {
        var items = new JsonArray(Enumerable.Range(0, 1000).Select(i => (JsonNode)i).ToArray());
        var grain = new GrainSimulator("""
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
                input: {count: "{{ start | length }}"}
            """, new JsonObject { ["items"] = items });
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 1000; i++)
        {
            var id = grain.OpenCommandOf("start");
            grain.CallDone(id, i);
            grain.Completed(id);
        }
        watch.Stop();

        Assert.Equal("""{"count":1000}""", grain.Commands.Last().Input.ToJsonString());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }
}
