using System.Text.Json.Nodes;
using NoEtl.Orchestration.Templates;

namespace NoEtl.Orchestration.Tests.Templates;

public class TemplateValueTests
{
    private static JsonObject Context() => TemplateRenderTests.Context();

    /// <summary>§3.1 typing: the expected value as JSON text, with its .NET JSON kind.</summary>
    [Theory]
    [InlineData("{{ n }}", "5", "Number")]
    [InlineData("{{ f }}", "2.5", "Number")]
    [InlineData("{{ big }}", "10000000000", "Number")]
    [InlineData("{{ '007' }}", "7", "Number")]
    [InlineData("{{ '-3' }}", "-3", "Number")]
    [InlineData("{{ '+4' }}", "4", "Number")]
    [InlineData("{{ '1e3' }}", "1000", "Number")]
    [InlineData("{{ '.5' }}", "0.5", "Number")]
    [InlineData("{{ 'inf' }}", "\"inf\"", "String")]
    [InlineData("{{ 'NaN' }}", "\"NaN\"", "String")]
    [InlineData("{{ n }}{{ n }}", "55", "Number")]
    [InlineData("{{ t }}", "true", "True")]
    [InlineData("{{ 'true' }}", "true", "True")]
    [InlineData("{{ 'True' }}", "true", "True")]
    [InlineData("{{ 'false' }}", "false", "False")]
    [InlineData("{{ 'False' }}", "false", "False")]
    [InlineData("{{ 'TRUE' }}", "\"TRUE\"", "String")]
    [InlineData("{{ name }}", "\"Ada\"", "String")]
    [InlineData("id-{{ n }}", "\"id-5\"", "String")]
    [InlineData(" {{ n }} ", "\" 5 \"", "String")]
    [InlineData("{{ s }}", "\" Hi There \"", "String")]
    [InlineData("{{ items }}", "[1,2,3]", "Array")]
    [InlineData(" {{ items }} ", "[1,2,3]", "Array")]
    [InlineData("{{ obj }}", """{"a":1,"b":{"c":"deep"}}""", "Object")]
    [InlineData("{{ json }}", "\"{\\u0022k\\u0022: [1, 2]}\"", "String")]
    [InlineData("{{ json | fromjson }}", """{"k":[1,2]}""", "Object")]
    [InlineData("{{ items | tojson }}", "[1,2,3]", "Array")]
    [InlineData("{% if t %}[1, 2]{% endif %}", "[1,2]", "Array")]
    [InlineData("{\"a\": {{ n }}}", """{"a":5}""", "Object")]
    [InlineData("{{ '{broken' }}", "\"{broken\"", "String")]
    [InlineData("{{ '{not json}' }}", "\"{not json}\"", "String")]
    [InlineData("[{{ name }}]", "\"[Ada]\"", "String")]
    [InlineData("plain text", "\"plain text\"", "String")]
    [InlineData("true", "\"true\"", "String")]
    [InlineData("42", "\"42\"", "String")]
    [InlineData("", "\"\"", "String")]
    [InlineData("{ not a template }", "\"{ not a template }\"", "String")]
    [InlineData("{{ '99999999999999999999' }}", "1E+20", "Number")]
    [InlineData("{{ '2.50' }}", "2.5", "Number")]
    [InlineData("{{ '-0' }}", "0", "Number")]
    [InlineData("{{ '1_000' }}", "\"1_000\"", "String")]
    [InlineData("{{ '0x1F' }}", "\"0x1F\"", "String")]
    [InlineData("{{ n > 3 }}", "true", "True")]
    [InlineData("{{ n ~ '' }}", "5", "Number")]
    [InlineData("{{ [t, none] }}", "[true,null]", "Array")]
    [InlineData("x={{ [t, none] }}", "\"x=[true, null]\"", "String")]
    [InlineData("{{ {'k': none} }}", """{"k":null}""", "Object")]
    [InlineData("{{ \"{'a': 1}\" }}", "\"{\\u0027a\\u0027: 1}\"", "String")]
    public void RenderToValue_types_the_output(string template, string expectedJson, string expectedKind)
    {
        var value = Template.RenderToValue(template, Context());
        Assert.NotNull(value);
        Assert.Equal(expectedJson, value.ToJsonString());
        Assert.Equal(expectedKind, value.GetValueKind().ToString());
    }

    /// <summary>
    /// A lone name or dotted path returns the value it names (Python <c>render.py</c>): text is never re-typed. Anything
    /// else in the braces (a filter, an operator, an index, a literal) is typed as rendered text.
    /// </summary>
    [Theory]
    [InlineData("{{ zip }}", "\"02134\"")]
    [InlineData("{{ row.zip }}", "\"02134\"")]
    [InlineData("{{ row['zip'] }}", "\"02134\"")]
    [InlineData("{{ yes }}", "\"true\"")]
    [InlineData("{{ row.none }}", "\"None\"")]
    [InlineData("{{ execution_id }}", "\"42\"")]
    [InlineData(" {{ zip }} ", "\" 02134 \"")]
    [InlineData("{{ zip | string }}", "2134")]
    [InlineData("{{ zip ~ '' }}", "2134")]
    [InlineData("{{ yes | lower }}", "true")]
    [InlineData("{{ count }}", "7")]
    [InlineData("{{ missing.path }}", "null")]
    public void A_lone_path_keeps_the_value_it_names(string template, string expectedJson)
    {
        var context = (JsonObject)JsonNode.Parse("""
            {"zip": "02134", "yes": "true", "count": 7, "execution_id": "42", "row": {"zip": "02134", "none": "None"}}
            """)!;
        Assert.Equal(expectedJson, Template.RenderToValue(template, context)?.ToJsonString() ?? "null");
    }

    [Theory]
    [InlineData("{{ missing }}")]
    [InlineData("{{ nul }}")]
    [InlineData("{{ none }}")]
    [InlineData("{{ 'null' }}")]
    [InlineData("{{ 'None' }}")]
    [InlineData("{{ '' }}")]
    [InlineData("{% if zero %}x{% endif %}")]
    public void RenderToValue_maps_empty_and_null_words_to_null(string template) =>
        Assert.Null(Template.RenderToValue(template, Context()));

    [Fact]
    public void RenderToValue_returns_a_detached_copy_of_containers()
    {
        var context = Context();
        var value = (JsonArray)Template.RenderToValue("{{ items }}", context)!;
        value.Add(4);
        Assert.Equal("[1,2,3]", context["items"]!.ToJsonString());
        Assert.Null(value.Parent);
    }

    [Fact]
    public void RenderValue_recurses_into_objects_arrays_and_keys()
    {
        var input = JsonNode.Parse("""
            {"{{ name | lower }}_key": "{{ n }}", "list": ["{{ t }}", "x", 3, null, {"deep": "{{ obj.b.c }}"}], "plain": "no {template}", "num": 1.5}
            """);
        var rendered = Template.RenderValue(input, Context());
        Assert.Equal("""{"ada_key":5,"list":[true,"x",3,null,{"deep":"deep"}],"plain":"no {template}","num":1.5}""", rendered!.ToJsonString());
        Assert.Null(Template.RenderValue(null, Context()));
    }

    [Fact]
    public void RenderValue_can_defer_keychain_templates()
    {
        var input = JsonNode.Parse("""{"auth": "{{ keychain.token }}", "url": "{{ name }}", "header": "Bearer {{ keychain.api.key }}"}""");
        var deferred = Template.RenderValue(input, Context(), new RenderOptions(DeferKeychain: true));
        Assert.Equal("""{"auth":"{{ keychain.token }}","url":"Ada","header":"Bearer {{ keychain.api.key }}"}""", deferred!.ToJsonString());
        var rendered = Template.RenderValue(input, Context());
        Assert.Equal("""{"auth":null,"url":"Ada","header":"Bearer "}""", rendered!.ToJsonString());
    }

    [Theory]
    [InlineData("{{ n > 3 }}", true)]
    [InlineData("n > 3", true)]
    [InlineData("n < 3", false)]
    [InlineData("{{ zero }}", false)]
    [InlineData("{{ 'no' }}", false)]
    [InlineData("{{ 'Off' }}", false)]
    [InlineData("{{ ' NONE ' }}", false)]
    [InlineData("{{ 'null' }}", false)]
    [InlineData("{{ empty }}", false)]
    [InlineData("{{ emptyObj }}", false)]
    [InlineData("{{ missing }}", false)]
    [InlineData("missing.x == 1", false)]
    [InlineData("{{ false }}", false)]
    [InlineData("false", false)]
    [InlineData("true", true)]
    [InlineData("{{ 'req-123' }}", true)]
    [InlineData("name and 'req'", true)]
    [InlineData("{{ 0.0 }}", true)]
    [InlineData("{{ items }}", true)]
    [InlineData("{% if n > 1 %}yes{% endif %}", true)]
    [InlineData("{% if n > 9 %}yes{% endif %}", false)]
    public void EvaluateCondition_uses_the_falsy_word_list(string condition, bool expected) =>
        Assert.Equal(expected, Template.EvaluateCondition(condition, Context()));

    [Theory]
    [InlineData("{{ 1 + }}", "expected an expression", 7)]
    [InlineData("{{ name | nofilter }}", "unknown filter 'nofilter'", 10)]
    [InlineData("{{ n is weird }}", "unknown test 'weird'", 5)]
    [InlineData("{{ n is divisibleby(3) }}", "tests with arguments are not supported", 19)]
    [InlineData("{{ name ", "unclosed tag, expected '}}'", 0)]
    [InlineData("{{ 'abc }}", "unterminated string literal", 3)]
    [InlineData("{{ f(1) }}", "function and method calls are not supported; use a filter", 4)]
    [InlineData("{{ obj.items() }}", "function and method calls are not supported; use a filter", 12)]
    [InlineData("{{ 1 / 0 }}", "division by zero", 5)]
    [InlineData("{{ 5 // zero }}", "division by zero", 5)]
    [InlineData("{{ 'a' - 1 }}", "unsupported operand types for -: string and int", 7)]
    [InlineData("{{ missing + 1 }}", "unsupported operand types for +: undefined and int", 11)]
    [InlineData("{{ -name }}", "bad operand type for unary -: string", 3)]
    [InlineData("{% foo %}", "unsupported statement 'foo'", 3)]
    [InlineData("{% endif %}", "unexpected '{% endif %}'", 3)]
    [InlineData("{% if n %}x", "missing '{% endif %}'", 11)]
    [InlineData("{% for x in items %}x", "missing '{% endfor %}'", 21)]
    [InlineData("{% for x of items %}{% endfor %}", "expected 'in' in for loop", 9)]
    [InlineData("{{ 'abc' | b64decode }}", "b64decode: invalid base64 input", 11)]
    [InlineData("{{ n | keys }}", "keys: int is not a mapping", 7)]
    [InlineData("{{ n | first }}", "first: int is not a sequence", 7)]
    [InlineData("{{ n | length }}", "length: int has no length", 7)]
    [InlineData("{{ obj | lower }}", "filter 'lower' expects a string, got dict", 9)]
    [InlineData("{{ 'abc' | replace('', 'x') }}", "replace: the string to replace must not be empty", 11)]
    [InlineData("{{ 'abc' | replace('a') }}", "replace: missing argument 'new'", 11)]
    [InlineData("{% for a, b in items %}{% endfor %}", "cannot unpack int into 2 loop variables", 0)]
    [InlineData("{% for x in n %}{% endfor %}", "int is not iterable", 12)]
    [InlineData("{{ 1 in n }}", "int is not a container", 3)]
    [InlineData("{{ 1 in 'abc' }}", "'in <string>' requires a string, not int", 3)]
    [InlineData("{{ n $ 1 }}", "unexpected character '$'", 5)]
    [InlineData("{{ obj. }}", "expected an attribute name after '.'", 8)]
    public void Errors_carry_template_and_position(string template, string reason, int position)
    {
        var error = Assert.Throws<TemplateException>(() => Template.Render(template, Context()));
        Assert.Equal(reason, error.Reason);
        Assert.Equal(template, error.Template);
        Assert.Equal(position, error.Position);
        Assert.Contains($"at position {position}", error.Message);
    }

    [Fact]
    public void Fromjson_reports_invalid_json()
    {
        var error = Assert.Throws<TemplateException>(() => Template.Render("{{ 'x' | fromjson }}", Context()));
        Assert.StartsWith("fromjson: invalid JSON:", error.Reason);
        Assert.Equal(9, error.Position);
    }

    [Fact]
    public void Parse_errors_are_cached_and_rethrown()
    {
        for (var i = 0; i < 2; i++)
            Assert.Throws<TemplateException>(() => Template.RenderToValue("{{ (1 }}", Context()));
    }

    [Fact]
    public void Json_values_wrapping_elements_behave_like_containers()
    {
        var poco = new Dictionary<string, object> { ["a"] = new Dictionary<string, int[]> { ["b"] = [1, 2] } };
        var context = new JsonObject { ["wrapped"] = JsonValue.Create(poco) };
        Assert.Equal("2", Template.Render("{{ wrapped.a.b[1] }}", context));
        Assert.Equal("""{"b":[1,2]}""", Template.RenderToValue("{{ wrapped.a }}", context)!.ToJsonString());
    }

    [Fact]
    public void Custom_scopes_resolve_names_without_a_context_object()
    {
        var scope = new FixedScope();
        Assert.Equal("7!", Template.Render("{{ seven }}!", scope));
        Assert.Equal(7L, (long)Template.RenderToValue("{{ seven }}", scope)!);
        Assert.True(Template.EvaluateCondition("seven == 7 and other is undefined", scope));
    }

    private sealed class FixedScope : TemplateScope
    {
        public override bool TryGet(string name, out JsonNode? value)
        {
            value = name == "seven" ? 7 : null;
            return name == "seven";
        }
    }
}
