using System.Text.Json.Nodes;
using NoEtl.Orchestration.Templates;
using NoEtl.Worker.Templates;

namespace NoEtl.Worker.Tests;

public class TemplateTests
{
    private static readonly OrchestrationTemplates Jinja = new();

    private static readonly JsonObject Ctx = TestKit.Obj("""
        {"workload": {"n": 3, "name": "Ann", "items": [1, 2, 3]},
         "output": {"status": "error", "http": {"status": 503}, "data": {"rows": [{"id": 9}]}},
         "keychain": {"API": "s3cret"}, "flag": true, "empty": null}
        """);

    [Theory]
    [InlineData("{{ workload.n }}", "3")]
    [InlineData("{{ workload.items[1] }}", "2")]
    [InlineData("{{ output.data.rows[0].id + 1 }}", "10")]
    [InlineData("{{ workload.name | lower }}", "\"ann\"")]
    [InlineData("{{ missing.path | default('x') }}", "\"x\"")]
    [InlineData("{{ empty | default(5) }}", "5")]
    [InlineData("{{ workload.items | length }}", "3")]
    [InlineData("{{ 'yes' if flag else 'no' }}", "\"yes\"")]
    [InlineData("{{ workload }}", "{\"n\":3,\"name\":\"Ann\",\"items\":[1,2,3]}")]
    [InlineData("{{ workload.items | tojson }}", "[1,2,3]")]
    [InlineData("{{ \"it's\" | replace(\"'\", \"''\") }}", "\"it''s\"")]
    [InlineData("Hello {{ workload.name }}!", "\"Hello Ann!\"")]
    [InlineData("{{ workload.n }}{{ workload.n }}", "33")]
    [InlineData("no template", "\"no template\"")]
    [InlineData("{% if flag %}on{% else %}off{% endif %}", "\"on\"")]
    [InlineData("{{ missing }}", "null")]
    public void Renders_strings_with_types(string template, string expected)
    {
        var rendered = Jinja.RenderValue(JsonValue.Create(template), Ctx);
        var relaxed = new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        Assert.Equal(expected, rendered?.ToJsonString(relaxed) ?? "null");
    }

    [Theory]
    [InlineData("{{ output.http.status >= 500 }}", true)]
    [InlineData("{{ output.http.status in [500, 502, 503] }}", true)]
    [InlineData("output.status == 'error' and not flag", false)]
    [InlineData("{{ missing.deep.path }}", false)]
    [InlineData("{{ missing is not defined }}", true)]
    [InlineData("{{ workload.n is number and workload.name is string }}", true)]
    [InlineData("{{ 'nn' in workload.name }}", true)]
    [InlineData("{{ 2 not in workload.items }}", false)]
    [InlineData("{{ workload.n // 2 == 1 and workload.n % 2 == 1 }}", true)]
    public void Evaluates_conditions(string expression, bool expected) =>
        Assert.Equal(expected, Jinja.EvaluateCondition(expression, Ctx));

    [Fact]
    public void Renders_nested_objects_and_keys()
    {
        var template = TestKit.Obj("""{"url": "http://x/{{ workload.name }}", "headers": {"Authorization": "Bearer {{ keychain.API }}"}, "n": "{{ workload.n }}", "keep": 1}""");
        var rendered = Jinja.RenderValue(template, Ctx)!.AsObject();
        Assert.Equal("http://x/Ann", rendered["url"]!.GetValue<string>());
        Assert.Equal("Bearer s3cret", rendered["headers"]!["Authorization"]!.GetValue<string>());
        Assert.Equal(3, rendered["n"]!.GetValue<long>());
        Assert.Equal(1, rendered["keep"]!.GetValue<int>());
    }

    [Fact]
    public void Bad_syntax_is_a_template_error() =>
        Assert.Throws<TemplateException>(() => Jinja.RenderValue(JsonValue.Create("{{ workload. }}"), Ctx));
}
