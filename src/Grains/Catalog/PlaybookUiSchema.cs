using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Tokens;
using YamlDotNet.RepresentationModel;

namespace NoEtl.Grains.Catalog;

/// <summary>
/// The form of NoETL's Run dialog (<c>GET /api/catalog/{path}/ui_schema</c>): one field per top-level
/// <c>workload</c> key, its kind from the default's JSON type, nested objects as <c>children</c>, refined by comment
/// hints on the key's line — <c># ui:enum=[a,b]</c>, <c># ui:secret</c>, <c># ui:credential=&lt;glob&gt;</c>,
/// <c># ui:description=&lt;text&gt;</c> (several may share one comment).
/// </summary>
public static partial class PlaybookUiSchema
{
    public static RunForm Build(string path, int version, string kind, string content, PlaybookLimits limits)
    {
        // The bounded reader first: it refuses what the unbounded ones below could choke on.
        var document = PlaybookDocument.LoadYaml(content, limits);
        var metadata = document["metadata"] as JsonObject;
        var hints = CommentsByLine(content);
        var workloadNode = Mapping(RootOf(content), "workload");
        var exposed = metadata?["exposed_in_ui"] is not JsonValue flag || flag.GetValueKind() is not JsonValueKind.False;
        return new RunForm(path, version, kind, Text(metadata?["name"]) ?? path, Text(metadata?["description"]) ?? "", exposed,
            Fields(document["workload"] as JsonObject, workloadNode, hints), DateTime.UtcNow.ToString("O"));
    }

    private static List<RunFormField> Fields(JsonObject? values, YamlMappingNode? node, Dictionary<int, string> comments)
    {
        var fields = new List<RunFormField>();
        foreach (var (name, value) in values ?? new JsonObject())
        {
            var key = node?.Children.Keys.OfType<YamlScalarNode>().FirstOrDefault(k => k.Value == name);
            var hint = key is not null && comments.TryGetValue((int)key.Start.Line, out var comment) ? Hint.Parse(comment) : Hint.None;
            var children = value is JsonObject nested ? Fields(nested, key is null ? null : node!.Children[key] as YamlMappingNode, comments) : null;
            fields.Add(new RunFormField(name, hint.Options is not null ? "enum" : KindOf(value), JsonText.From(value?.ToJsonString()),
                hint.Description, hint.Secret, hint.CredentialGlob, hint.Options, children));
        }
        return fields;
    }

    /// <summary>The JSON type of a default: <c>string|integer|number|boolean|object|array|null</c>.</summary>
    public static string KindOf(JsonNode? value) => value switch
    {
        null => "null",
        JsonObject => "object",
        JsonArray => "array",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "string",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            JsonValueKind.Number => v.TryGetValue<long>(out _) || v.TryGetValue<int>(out _) ? "integer" : "number",
            _ => "null",
        },
        _ => "null",
    };

    private static YamlMappingNode? RootOf(string content)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(content));
        return stream.Documents.FirstOrDefault()?.RootNode as YamlMappingNode;
    }

    private static YamlMappingNode? Mapping(YamlMappingNode? parent, string key) =>
        parent is not null && parent.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value as YamlMappingNode : null;

    /// <summary>The comment text of each line that has one (the scanner knows a <c>#</c> inside a quoted string is no comment).</summary>
    private static Dictionary<int, string> CommentsByLine(string content)
    {
        var comments = new Dictionary<int, string>();
        var scanner = new Scanner(new StringReader(content), skipComments: false);
        while (scanner.MoveNext())
        {
            if (scanner.Current is Comment comment)
                comments.TryAdd((int)comment.Start.Line, comment.Value);
        }
        return comments;
    }

    private static string? Text(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String && value.GetValue<string>() is { Length: > 0 } text ? text : null;

    /// <summary>The <c>ui:</c> hints of one comment.</summary>
    public sealed record Hint(string? Description, bool Secret, string? CredentialGlob, string[]? Options)
    {
        public static readonly Hint None = new(null, false, null, null);

        public static Hint Parse(string comment)
        {
            var hint = None;
            foreach (Match match in HintPattern().Matches(comment))
            {
                var value = match.Groups["value"].Success ? match.Groups["value"].Value.Trim() : null;
                hint = match.Groups["name"].Value switch
                {
                    "secret" => hint with { Secret = true },
                    "credential" when value is { Length: > 0 } => hint with { CredentialGlob = value },
                    "description" when value is { Length: > 0 } => hint with { Description = value },
                    "enum" when value is not null => hint with { Options = ParseOptions(value) },
                    _ => hint,
                };
            }
            return hint;
        }

        /// <summary><c>[a, "b c", 'd']</c> → <c>a</c>, <c>b c</c>, <c>d</c>.</summary>
        private static string[] ParseOptions(string list) =>
            [.. list.Trim().TrimStart('[').TrimEnd(']').Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(option => option.Trim('"', '\''))];
    }

    /// <summary>
    /// <c>ui:name</c> or <c>ui:name=value</c>; a value runs to the next hint or the end of the comment (descriptions have
    /// spaces), an enum's list to its closing bracket.
    /// </summary>
    [GeneratedRegex(@"(?<![\w:])ui:(?<name>enum|secret|credential|description)(?:=(?<value>\[[^\]]*\]|.*?))?(?=\s+ui:|\s*$)")]
    private static partial Regex HintPattern();
}
