using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using NoEtl.Orchestration.Templates;

namespace NoEtl.Engine.Benchmarks;

/// <summary>Rendering a typical step input (paths, filters, arithmetic, a conditional) and evaluating an arc condition.</summary>
[MemoryDiagnoser]
public class TemplateBenchmarks
{
    private JsonObject _context = null!;
    private JsonObject _input = null!;

    [GlobalSetup]
    public void Setup()
    {
        _context = (JsonObject)JsonNode.Parse("""
            {
              "workload": {"tenant": "acme", "limit": 50},
              "fetch": {"rows": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], "status": 200},
              "ctx": {"round": 3, "token": "t-1"}
            }
            """)!;
        _input = (JsonObject)JsonNode.Parse("""
            {
              "url": "https://example.test/{{ workload.tenant }}/rows?limit={{ workload.limit }}",
              "count": "{{ fetch.rows | length }}",
              "first": "{{ fetch.rows[0].name | upper }}",
              "next_round": "{{ ctx.round + 1 }}",
              "ok": "{{ 'yes' if fetch.status == 200 else 'no' }}",
              "ids": "{{ fetch.rows | join(',', attribute='id') }}",
              "static": "no template here"
            }
            """)!;
    }

    [Benchmark]
    public JsonNode? RenderStepInput() => Template.RenderValue(_input, _context);

    [Benchmark]
    public bool EvaluateArcCondition() => Template.EvaluateCondition("{{ fetch.status in [200, 201] and ctx.round < 10 }}", _context);
}
