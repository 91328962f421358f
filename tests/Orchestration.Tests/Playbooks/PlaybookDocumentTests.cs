using System.Diagnostics;
using System.Text.Json.Nodes;
using NoEtl.Orchestration.Playbooks;

namespace NoEtl.Orchestration.Tests.Playbooks;

public class PlaybookDocumentTests
{
    [Theory]
    [InlineData("42", "42", "Number")]
    [InlineData("-7", "-7", "Number")]
    [InlineData("+3", "3", "Number")]
    [InlineData("0o17", "15", "Number")]
    [InlineData("0x1F", "31", "Number")]
    [InlineData("1.5", "1.5", "Number")]
    [InlineData("-2.5e3", "-2500", "Number")]
    [InlineData(".5", "0.5", "Number")]
    [InlineData("99999999999999999999", "1E+20", "Number")]
    [InlineData("true", "true", "True")]
    [InlineData("True", "true", "True")]
    [InlineData("FALSE", "false", "False")]
    [InlineData("yes", "\"yes\"", "String")]
    [InlineData("on", "\"on\"", "String")]
    [InlineData(".inf", "\".inf\"", "String")]
    [InlineData("1_000", "\"1_000\"", "String")]
    [InlineData("012abc", "\"012abc\"", "String")]
    [InlineData("'42'", "\"42\"", "String")]
    [InlineData("\"true\"", "\"true\"", "String")]
    [InlineData("!!str 5", "\"5\"", "String")]
    [InlineData("hello world", "\"hello world\"", "String")]
    [InlineData("\"{{ x }}\"", "\"{{ x }}\"", "String")]
    public void Plain_scalars_follow_the_core_schema(string scalar, string expectedJson, string expectedKind)
    {
        var value = PlaybookDocument.LoadYaml($"v: {scalar}")["v"]!;
        Assert.Equal(expectedJson, value.ToJsonString());
        Assert.Equal(expectedKind, value.GetValueKind().ToString());
    }

    [Theory]
    [InlineData("v:")]
    [InlineData("v: ~")]
    [InlineData("v: null")]
    [InlineData("v: NULL")]
    public void Null_scalars_become_json_null(string yaml)
    {
        var document = PlaybookDocument.LoadYaml(yaml);
        Assert.True(document.ContainsKey("v"));
        Assert.Null(document["v"]);
    }

    [Fact]
    public void Nested_structures_block_scalars_and_anchors_convert()
    {
        var document = PlaybookDocument.LoadYaml("""
            base: &base {a: 1, b: [x, 2]}
            copy: *base
            code: |
              print("hi")
              x = 1
            folded: >
              one
              two
            """);
        Assert.Equal("""{"a":1,"b":["x",2]}""", document["base"]!.ToJsonString());
        Assert.Equal("""{"a":1,"b":["x",2]}""", document["copy"]!.ToJsonString());
        Assert.Equal("print(\"hi\")\nx = 1\n", (string?)document["code"]);
        Assert.Equal("one two", (string?)document["folded"]);
    }

    [Fact]
    public void Merge_keys_fill_in_missing_keys()
    {
        var document = PlaybookDocument.LoadYaml("""
            defaults: &defaults {kind: http, timeout: 5, method: GET}
            extra: &extra {retries: 2, timeout: 9}
            tool:
              <<: [*defaults, *extra]
              method: POST
            """);
        Assert.Equal("""{"method":"POST","kind":"http","timeout":5,"retries":2}""", document["tool"]!.ToJsonString());
        Assert.Throws<PlaybookFormatException>(() => PlaybookDocument.LoadYaml("a:\n  <<: 5"));
    }

    [Theory]
    [InlineData("a: [1, 2", 2)]
    [InlineData("a: 1\n  b: 2", 2)]
    [InlineData("a: 1\na: 2", 2)]
    public void Invalid_yaml_reports_the_line(string yaml, long line)
    {
        var error = Assert.Throws<PlaybookFormatException>(() => PlaybookDocument.LoadYaml(yaml));
        Assert.Equal(line, error.Line);
        Assert.Contains($"(line {line}, column", error.Message);
    }

    [Theory]
    [InlineData("- a\n- b", "root must be a mapping")]
    [InlineData("just text", "root must be a mapping")]
    [InlineData("", "The document is empty")]
    public void Non_mapping_roots_are_rejected(string yaml, string message)
    {
        var error = Assert.Throws<PlaybookFormatException>(() => PlaybookDocument.LoadYaml(yaml));
        Assert.Contains(message, error.Message);
    }

    [Theory]
    [InlineData("[", "]")]
    [InlineData("{a: ", "}")]
    public void Deep_flow_nesting_is_refused_before_the_tree_is_built(string open, string close)
    {
        // 30,000 levels overflowed the stack while YamlDotNet built its node tree; the guard stops at the 33rd.
        var nested = string.Concat(Enumerable.Repeat(open, 30_000)) + "1" + string.Concat(Enumerable.Repeat(close, 30_000));
        var error = Assert.Throws<PlaybookFormatException>(() => PlaybookDocument.LoadYaml("v: " + nested));
        Assert.Contains("YAML nested deeper than 32 levels", error.Message);
    }

    [Fact]
    public void Nesting_counts_levels_reached_through_aliases()
    {
        var chain = string.Concat(Enumerable.Repeat("[", 20)) + "1" + new string(']', 20);
        var yaml = $"a: &deep {chain}\nb: [[[[[[[[[[[[[[[*deep]]]]]]]]]]]]]]]";
        var error = Assert.Throws<PlaybookFormatException>(() => PlaybookDocument.LoadYaml(yaml));
        Assert.Contains("once alias '*deep' is expanded", error.Message);
        Assert.NotNull(PlaybookDocument.LoadYaml(yaml, new PlaybookLimits { MaxYamlDepth = 40 })["b"]);
    }

    [Fact]
    public void Alias_expansion_past_the_node_budget_is_refused_quickly()
    {
        // "Billion laughs": 452 bytes that expand to 10^9 strings took seconds and gigabytes to convert.
        var yaml = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + string.Concat("bcdefghi".Select((name, i) =>
            $"{name}: &{name} [{string.Join(",", Enumerable.Repeat("*" + "abcdefghi"[i], 9))}]\n"));
        var watch = Stopwatch.StartNew();
        var error = Assert.Throws<PlaybookFormatException>(() => PlaybookDocument.LoadYaml(yaml));
        Assert.Contains("more than 100000 nodes with aliases expanded", error.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}"); // unbudgeted, it took minutes and gigabytes
    }

    [Theory]
    [InlineData("a: &a [*a]")]
    [InlineData("a: *b\nb: &b 1")]
    public void Aliases_must_follow_a_complete_anchored_node(string yaml)
    {
        var error = Assert.Throws<PlaybookFormatException>(() => PlaybookDocument.LoadYaml(yaml));
        Assert.Contains("does not follow a complete node anchored", error.Message);
    }

    [Theory]
    [InlineData("metadata: [a, b]")]
    [InlineData("metadata: just text")]
    [InlineData("metadata: 5")]
    public void Metadata_that_is_not_a_mapping_is_a_format_error(string yaml)
    {
        var error = Assert.Throws<PlaybookFormatException>(() => PlaybookDocument.LoadYaml("kind: Playbook\n" + yaml));
        Assert.Contains("metadata must be a mapping", error.Message);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void Empty_metadata_is_left_to_the_playbook_validation()
    {
        Assert.Null(PlaybookDocument.LoadYaml("metadata:\nkind: Playbook")["metadata"]);
    }

    [Theory]
    [InlineData("a: b\0c")]
    [InlineData("a: \"b\0c\"")]
    [InlineData("\0")]
    [InlineData("a:\n  - x\0")]
    [InlineData("a: \"b\\0c\"")]
    [InlineData("a: \"b\\x00c\"")]
    [InlineData("a: \"b\\u0000c\"")]
    public void Nul_characters_are_a_format_error(string yaml)
    {
        var error = Assert.Throws<PlaybookFormatException>(() => PlaybookDocument.LoadYaml(yaml));
        Assert.Contains("NUL characters are not allowed", error.Message);
    }
}
