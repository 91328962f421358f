using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace NoEtl.Orchestration.Playbooks;

/// <summary>Turns playbook YAML into System.Text.Json nodes, typing plain scalars by the YAML 1.2 core schema.</summary>
public static partial class PlaybookDocument
{
    /// <summary>Parses <paramref name="yaml"/>; anything that is not a mapping document within <paramref name="limits"/> is a <see cref="PlaybookFormatException"/>.</summary>
    public static JsonObject LoadYaml(string yaml, PlaybookLimits? limits = null)
    {
        if (yaml.IndexOf('\0', StringComparison.Ordinal) is var nul and >= 0)
        {
            // PostgreSQL cannot store NUL in text or jsonb.
            var line = yaml.AsSpan(0, nul).Count('\n') + 1;
            throw new PlaybookFormatException("NUL characters are not allowed", line, nul - yaml.LastIndexOf('\n', nul));
        }
        var stream = new YamlStream();
        try
        {
            stream.Load(new BoundedParser(new Parser(new StringReader(yaml)), limits ?? PlaybookLimits.Default));
        }
        catch (YamlException e)
        {
            throw new PlaybookFormatException($"Invalid YAML: {e.Message}", e.Start.Line, e.Start.Column, e);
        }
        catch (ArgumentException e)
        {
            // YamlDotNet reports duplicate mapping keys as ArgumentException without a position.
            throw new PlaybookFormatException($"Invalid YAML: {e.Message}", 0, 0, e);
        }

        if (stream.Documents.Count == 0)
            throw new PlaybookFormatException("The document is empty", 1, 1);
        var root = stream.Documents[0].RootNode;
        if (root is not YamlMappingNode mapping)
            throw new PlaybookFormatException("The document root must be a mapping", root.Start.Line, root.Start.Column);
        // Every resource kind reads its name and path from metadata, before any kind-specific validation.
        if (mapping.Children.TryGetValue(new YamlScalarNode("metadata"), out var metadata) && metadata is not YamlMappingNode && !IsNull(metadata))
            throw new PlaybookFormatException("metadata must be a mapping", metadata.Start.Line, metadata.Start.Column);
        return ConvertMapping(mapping);
    }

    private static bool IsNull(YamlNode node) => node is YamlScalarNode { Style: ScalarStyle.Plain, Tag.IsEmpty: true } scalar
        && TypePlainScalar(scalar.Value ?? "") is null;

    /// <summary>
    /// Checks nesting and node count as YamlDotNet reads the events, before the tree is built, counting each alias as the
    /// nodes it stands for (the document is converted to JSON with aliases expanded). An alias must follow its anchor's
    /// node, which also rules out a node containing itself.
    /// </summary>
    private sealed class BoundedParser(IParser inner, PlaybookLimits limits) : IParser
    {
        private readonly Dictionary<string, (long Nodes, int Height)> _anchors = new(StringComparer.Ordinal);
        private readonly List<(AnchorName Anchor, long NodesBefore, int Height)> _open = [];
        private long _nodes;

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            if (!inner.MoveNext())
                return false;
            switch (inner.Current)
            {
                case MappingStart or SequenceStart:
                    var start = (NodeEvent)inner.Current;
                    if (_open.Count >= limits.MaxYamlDepth)
                        throw Refuse($"YAML nested deeper than {limits.MaxYamlDepth} levels");
                    _open.Add((start.Anchor, _nodes, 0));
                    AddNodes(1);
                    break;
                case MappingEnd or SequenceEnd:
                    var (anchor, nodesBefore, height) = _open[^1];
                    _open.RemoveAt(_open.Count - 1);
                    Completed(anchor, _nodes - nodesBefore, height + 1);
                    break;
                case Scalar scalar:
                    // An escaped NUL ("\0", "\x00") would reach the stored JSON all the same.
                    if (scalar.Value.Contains('\0', StringComparison.Ordinal))
                        throw Refuse("NUL characters are not allowed");
                    AddNodes(1);
                    Completed(scalar.Anchor, 1, 0);
                    break;
                case AnchorAlias alias:
                    if (!_anchors.TryGetValue(alias.Value.Value, out var target))
                        throw Refuse($"alias '*{alias.Value}' does not follow a complete node anchored '&{alias.Value}'");
                    if (_open.Count + target.Height > limits.MaxYamlDepth)
                        throw Refuse($"YAML nested deeper than {limits.MaxYamlDepth} levels once alias '*{alias.Value}' is expanded");
                    AddNodes(target.Nodes);
                    Completed(AnchorName.Empty, target.Nodes, target.Height);
                    break;
            }
            return true;
        }

        private void AddNodes(long count)
        {
            _nodes += count;
            if (_nodes > limits.MaxYamlNodes)
                throw Refuse($"YAML has more than {limits.MaxYamlNodes} nodes with aliases expanded");
        }

        private void Completed(AnchorName anchor, long nodes, int height)
        {
            if (!anchor.IsEmpty)
                _anchors[anchor.Value] = (nodes, height);
            if (_open.Count > 0 && _open[^1].Height < height)
                _open[^1] = _open[^1] with { Height = height };
        }

        private PlaybookFormatException Refuse(string message) =>
            new(message, inner.Current!.Start.Line, inner.Current.Start.Column);
    }

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode m => ConvertMapping(m),
        YamlSequenceNode s => new JsonArray(s.Children.Select(Convert).ToArray()),
        YamlScalarNode scalar => ConvertScalar(scalar),
        _ => throw new PlaybookFormatException($"Unsupported YAML node {node.NodeType}", node.Start.Line, node.Start.Column),
    };

    private static JsonObject ConvertMapping(YamlMappingNode mapping)
    {
        var result = new JsonObject();
        var merged = new List<YamlMappingNode>();
        foreach (var (key, value) in mapping.Children)
        {
            if (key is not YamlScalarNode { Value: { } name } scalar)
                throw new PlaybookFormatException("Mapping keys must be scalars", key.Start.Line, key.Start.Column);
            if (name == "<<" && scalar.Style == ScalarStyle.Plain)
            {
                merged.AddRange(MergeSources(value));
                continue;
            }
            if (result.ContainsKey(name))
                throw new PlaybookFormatException($"Duplicate key '{name}'", key.Start.Line, key.Start.Column);
            result[name] = Convert(value);
        }
        // YAML merge keys: explicit keys win, then earlier merge sources over later ones.
        foreach (var source in merged)
        {
            foreach (var (name, value) in ConvertMapping(source))
            {
                if (!result.ContainsKey(name))
                    result[name] = value?.DeepClone();
            }
        }
        return result;
    }

    private static IEnumerable<YamlMappingNode> MergeSources(YamlNode value) => value switch
    {
        YamlMappingNode single => [single],
        YamlSequenceNode list when list.Children.All(c => c is YamlMappingNode) => list.Children.Cast<YamlMappingNode>(),
        _ => throw new PlaybookFormatException("A merge key '<<' needs a mapping or a list of mappings", value.Start.Line, value.Start.Column),
    };

    private static JsonNode? ConvertScalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        var tag = scalar.Tag.IsEmpty ? null : scalar.Tag.Value;
        if (scalar.Style != ScalarStyle.Plain || tag is "tag:yaml.org,2002:str" or "!")
            return JsonValue.Create(text);
        return TypePlainScalar(text);
    }

    /// <summary>YAML 1.2 core schema resolution of an untagged plain scalar.</summary>
    internal static JsonNode? TypePlainScalar(string text)
    {
        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }
        if (DecimalInt().IsMatch(text))
        {
            if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
                return JsonValue.Create(l);
            return JsonValue.Create(double.Parse(text, CultureInfo.InvariantCulture));
        }
        if (text.StartsWith("0o", StringComparison.Ordinal) && OctalDigits().IsMatch(text[2..]))
            return JsonValue.Create(System.Convert.ToInt64(text[2..], 8));
        if (text.StartsWith("0x", StringComparison.Ordinal) && HexDigits().IsMatch(text[2..]))
            return JsonValue.Create(long.Parse(text[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        // .inf and .nan have no JSON representation, so they stay strings.
        if (CoreFloat().IsMatch(text))
            return JsonValue.Create(double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture));
        return JsonValue.Create(text);
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex DecimalInt();

    [GeneratedRegex(@"^[0-7]+$")]
    private static partial Regex OctalDigits();

    [GeneratedRegex(@"^[0-9a-fA-F]+$")]
    private static partial Regex HexDigits();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex CoreFloat();
}
