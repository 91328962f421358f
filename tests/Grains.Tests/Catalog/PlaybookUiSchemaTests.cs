using System.Text.Json;
using System.Text.Json.Nodes;
using NoEtl.Grains.Catalog;
using NoEtl.Orchestration.Playbooks;

namespace NoEtl.Grains.Tests.Catalog;

/// <summary>The Run dialog's form, as NoETL's GUI reads it from <c>GET /api/catalog/{path}/ui_schema</c>.</summary>
public sealed class PlaybookUiSchemaTests
{
    private const string Yaml = """
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata:
          name: Nightly load
          path: demo/nightly
          description: "Loads **rows** into the warehouse"
        workload:
          region: us-east        # ui:enum=[us-east, "eu-west"] ui:description=Where it runs
          api_key: ""            # ui:secret
          database: pg_main      # ui:credential=pg_*
          limit: 10
          ratio: 0.5
          dry_run: false
          tags: [a, b]
          nothing: null
          note: "a # not a comment"
          advanced:              # ui:description=Rarely changed
            retries: 3
            mode: fast           # ui:enum=[fast,safe]
        workflow:
          - step: start
            tool: {kind: noop}
        """;

    /// <summary>The form as the gateway writes it: snake_case names, null fields written.</summary>
    private static readonly JsonSerializerOptions Wire = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static JsonObject Schema() => Build("demo/nightly", Yaml);

    private static JsonObject Build(string path, string yaml) =>
        JsonSerializer.SerializeToNode(PlaybookUiSchema.Build(path, 3, "playbook", yaml, PlaybookLimits.Default), Wire)!.AsObject();

    private static JsonObject Field(JsonNode? fields, string name) =>
        fields!.AsArray().Single(f => f!["name"]!.GetValue<string>() == name)!.AsObject();

    [Fact]
    public void Every_workload_key_is_a_field_in_order_with_its_kind_from_the_default()
    {
        var schema = Schema();
        Assert.Equal("demo/nightly", schema["path"]!.GetValue<string>());
        Assert.Equal(3, schema["version"]!.GetValue<int>());
        Assert.Equal("Nightly load", schema["title"]!.GetValue<string>());
        Assert.Equal("Loads **rows** into the warehouse", schema["description_markdown"]!.GetValue<string>());
        Assert.True(schema["exposed_in_ui"]!.GetValue<bool>());
        Assert.EndsWith("Z", schema["generated_at"]!.GetValue<string>());
        var fields = schema["fields"]!.AsArray();
        Assert.Equal(["region", "api_key", "database", "limit", "ratio", "dry_run", "tags", "nothing", "note", "advanced"],
            fields.Select(f => f!["name"]!.GetValue<string>()));
        Assert.Equal(["enum", "string", "string", "integer", "number", "boolean", "array", "null", "string", "object"],
            fields.Select(f => f!["kind"]!.GetValue<string>()));
        Assert.Equal(10, Field(fields, "limit")["default"]!.GetValue<long>());
        Assert.Equal("a # not a comment", Field(fields, "note")["default"]!.GetValue<string>());
        foreach (var field in fields)
            Assert.Equal(["name", "kind", "default", "description", "secret", "credential_glob", "options", "children"], field!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public void Comment_hints_on_a_key_line_refine_its_field()
    {
        var fields = Schema()["fields"];
        var region = Field(fields, "region");
        Assert.Equal(["us-east", "eu-west"], region["options"]!.AsArray().Select(o => o!.GetValue<string>()));
        Assert.Equal("Where it runs", region["description"]!.GetValue<string>());
        Assert.Equal("us-east", region["default"]!.GetValue<string>());
        Assert.True(Field(fields, "api_key")["secret"]!.GetValue<bool>());
        Assert.False(Field(fields, "limit")["secret"]!.GetValue<bool>());
        Assert.Equal("pg_*", Field(fields, "database")["credential_glob"]!.GetValue<string>());
        Assert.Null(Field(fields, "note")["description"]);
        Assert.Null(Field(fields, "limit")["options"]);
    }

    [Fact]
    public void Nested_objects_become_children_with_their_own_hints()
    {
        var advanced = Field(Schema()["fields"], "advanced");
        Assert.Equal("Rarely changed", advanced["description"]!.GetValue<string>());
        var children = advanced["children"];
        Assert.Equal("integer", Field(children, "retries")["kind"]!.GetValue<string>());
        var mode = Field(children, "mode");
        Assert.Equal("enum", mode["kind"]!.GetValue<string>());
        Assert.Equal(["fast", "safe"], mode["options"]!.AsArray().Select(o => o!.GetValue<string>()));
        Assert.Null(Field(Schema()["fields"], "limit")["children"]);
    }

    [Fact]
    public void A_playbook_without_workload_has_no_fields_and_its_path_as_title()
    {
        var schema = Build("demo/bare",
            "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {path: demo/bare, exposed_in_ui: false}\nworkflow:\n  - step: start\n    tool: {kind: noop}\n");
        Assert.Empty(schema["fields"]!.AsArray());
        Assert.Equal("demo/bare", schema["title"]!.GetValue<string>());
        Assert.False(schema["exposed_in_ui"]!.GetValue<bool>());
    }
}
