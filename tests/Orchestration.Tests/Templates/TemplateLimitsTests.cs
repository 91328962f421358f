using System.Text.Json.Nodes;
using NoEtl.Orchestration.Templates;

namespace NoEtl.Orchestration.Tests.Templates;

/// <summary>Every render has a bounded cost: nesting, steps and string sizes stop with a <see cref="TemplateException"/>.</summary>
public class TemplateLimitsTests
{
    private static JsonObject Context() => new()
    {
        ["items"] = new JsonArray(Enumerable.Range(0, 3000).Select(i => (JsonNode)i).ToArray()),
        ["fifty"] = new JsonArray(Enumerable.Range(0, 50).Select(i => (JsonNode)i).ToArray()),
        ["x"] = "a",
    };

    private static string Repeat(string text, int count) => string.Concat(Enumerable.Repeat(text, count));

    /// <summary>Each of these overflowed the stack (the process died) when parsed or rendered without a depth guard.</summary>
    public static TheoryData<string, string> DeepTemplates => new()
    {
        { "parentheses", "{{ " + Repeat("(", 10_000) + "1" + Repeat(")", 10_000) + " }}" },
        { "brackets", "{{ " + Repeat("[", 10_000) + "1" + Repeat("]", 10_000) + " }}" },
        { "braces", "{{ " + Repeat("{'a': ", 10_000) + "1" + Repeat("}", 10_000) + " }}" },
        { "if blocks", Repeat("{% if true %}", 30_000) + "x" + Repeat("{% endif %}", 30_000) },
        { "for blocks", Repeat("{% for i in [1] %}", 30_000) + "x" + Repeat("{% endfor %}", 30_000) },
        { "not chain", "{{ " + Repeat("not ", 30_000) + "x }}" },
        { "unary minus chain", "{{ " + Repeat("- ", 30_000) + "1 }}" },
        { "operator chain", "{{ 1" + Repeat(" + 1", 100_000) + " }}" },
        { "concat chain", "{{ x" + Repeat(" ~ x", 100_000) + " }}" },
        { "or chain", "{{ x" + Repeat(" or x", 100_000) + " }}" },
        { "filter chain", "{{ x" + Repeat("|d", 100_000) + " }}" },
        { "attribute chain", "{{ x" + Repeat(".a", 100_000) + " }}" },
        { "conditional chain", "{{ 1" + Repeat(" if x else 1", 30_000) + " }}" },
    };

    [Theory]
    [MemberData(nameof(DeepTemplates))]
    public void Deep_nesting_is_a_template_error_not_a_stack_overflow(string shape, string template)
    {
        var error = Assert.Throws<TemplateException>(() => Template.Render(template, Context()));
        Assert.True(error.Reason.StartsWith("template nesting deeper than", StringComparison.Ordinal), $"{shape}: {error.Reason}");
        Assert.Throws<TemplateException>(() => Template.RenderToValue(template, Context()));
    }

    [Fact]
    public void Nesting_is_limited_to_64_levels_unless_the_limits_say_otherwise()
    {
        var moderate = "{{ " + Repeat("(", 40) + "1" + Repeat(")", 40) + " }}";
        var deep = "{{ " + Repeat("(", 100) + "1" + Repeat(")", 100) + " }}";
        Assert.Equal("1", Template.Render(moderate, Context()));
        var error = Assert.Throws<TemplateException>(() => Template.Render(deep, Context()));
        Assert.Equal("template nesting deeper than 64 levels", error.Reason);
        Assert.Equal("1", Template.Render(deep, TemplateScope.Of(Context()), new TemplateLimits { MaxDepth = 128 }));
    }

    [Theory]
    [InlineData("{{ v | tojson }}")]
    [InlineData("{{ v }}")]
    [InlineData("{{ v == v }}")]
    [InlineData("{{ v in [v] }}")]
    public void Values_nested_past_the_limit_are_a_template_error(string template)
    {
        JsonNode deep = 1;
        for (var i = 0; i < 100; i++)
            deep = new JsonArray(deep);
        var error = Assert.Throws<TemplateException>(() => Template.Render(template, new JsonObject { ["v"] = deep }));
        Assert.Equal("value nested deeper than 64 levels", error.Reason);
    }

    /// <summary>Each of these cost seconds and hundreds of megabytes, or threw a non-template exception that escaped the engine.</summary>
    [Theory]
    [InlineData("{{ ('x' * 100000000) | length }}", "template output longer than 1048576 characters")]
    [InlineData("{{ 'x' * 2147483648 }}", "template output longer than 1048576 characters")]
    [InlineData("{{ 2147483648 * 'x' }}", "template output longer than 1048576 characters")]
    [InlineData("{{ {'a': 1} | tojson(indent=2147483647) }}", "template output longer than 1048576 characters")]
    [InlineData("{{ {'a': 1} | tojson(indent=9223372036854775807) }}", "template output longer than 1048576 characters")]
    [InlineData("{{ ('x' * 1000) | replace('x', 'y' * 2000) }}", "template output longer than 1048576 characters")]
    [InlineData("{{ items | join('x' * 1000) }}", "template output longer than 1048576 characters")]
    [InlineData("{{ ('x' * 1000000) ~ ('x' * 1000000) }}", "template output longer than 1048576 characters")]
    [InlineData("{{ ('x' * 800000) | b64encode }}", "template output longer than 1048576 characters")]
    [InlineData("{% for a in items %}{{ 'x' * 1000 }}{% endfor %}", "template output longer than 1048576 characters")]
    [InlineData("{% for a in items %}{% for b in items %}{% endfor %}{% endfor %}", "template exceeded 100000 evaluation steps")]
    [InlineData("{% for a in items %}{% if a in items %}{% endif %}{% endfor %}", "template exceeded 100000 evaluation steps")]
    [InlineData("{{ 9223372036854775807 + 1 }}", "integer overflow in +")]
    [InlineData("{{ -9223372036854775807 - 2 }}", "integer overflow in -")]
    [InlineData("{{ 4294967296 * 4294967296 }}", "integer overflow in *")]
    [InlineData("{{ 2 ** 64 }}", "integer overflow in **")]
    [InlineData("{{ (-9223372036854775807 - 1) // -1 }}", "integer overflow in //")]
    [InlineData("{{ -(-9223372036854775807 - 1) }}", "integer overflow in unary -")]
    [InlineData("{{ 'a' | split('a', 9223372036854775807) | length }}", null)]
    [InlineData("{{ '\\uZZZZ' }}", "invalid \\u escape: expected four hex digits")]
    public void Over_budget_and_out_of_range_inputs_are_template_errors(string template, string? reason)
    {
        if (reason is null)
        {
            Assert.Equal("2", Template.Render(template, Context()));
            return;
        }
        var error = Assert.Throws<TemplateException>(() => Template.Render(template, Context()));
        Assert.Equal(reason, error.Reason); // the budget, not the input's size, ended the work
    }

    [Theory]
    [InlineData("{{ (-9223372036854775807 - 1) % -1 }}", "0")]
    [InlineData("{{ 9223372036854775807 % 2 }}", "1")]
    [InlineData("{{ -7 % 3 }}", "2")]
    [InlineData("{{ 7 % -3 }}", "-2")]
    [InlineData("{{ 3 ** 39 }}", "4052555153018976267")]
    [InlineData("{{ (-2) ** 63 }}", "-9223372036854775808")]
    [InlineData("{{ {'a': [1]} | tojson(indent=-1) }}", "{\n\"a\": [\n1\n]\n}")]
    public void Arithmetic_at_the_edges_stays_exact(string template, string expected)
    {
        Assert.Equal(expected, Template.Render(template, Context()));
    }

    [Fact]
    public void Callers_can_raise_the_budget()
    {
        var scope = TemplateScope.Of(Context());
        const string Loops = "{% for a in items %}{% for b in fifty %}{% endfor %}{% endfor %}";
        Assert.Throws<TemplateException>(() => Template.Render(Loops, scope));
        Assert.Equal("", Template.Render(Loops, scope, new TemplateLimits { MaxSteps = 200_000 }));
        Assert.Equal("2000000", Template.Render("{{ ('x' * 2000000) | length }}", scope, new TemplateLimits { MaxOutputLength = 4_000_000 }));
    }

    [Fact]
    public void A_render_value_tree_shares_one_budget()
    {
        // Each string alone fits; together they pass the step budget, as a tool config with many templates would.
        var value = new JsonArray(Enumerable.Range(0, 40).Select(_ => (JsonNode)"{% for a in items %}{% endfor %}").ToArray());
        var error = Assert.Throws<TemplateException>(() => Template.RenderValue(value, TemplateScope.Of(Context()), RenderOptions.Default));
        Assert.Equal("template exceeded 100000 evaluation steps", error.Reason);
    }
}
