using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Templates;

/// <summary>The filter set of the Rust control plane and worker (minijinja builtins plus NoETL's custom ones).</summary>
internal static class Filters
{
    public static object? Apply(string name, object? value, Arguments args, int position) => name switch
    {
        "default" or "d" => Default(value, args),
        "int" => ToInt(value, args),
        "float" => ToFloat(value, args),
        "string" => Values.Render(value),
        "lower" => Text(value, name, position).ToLowerInvariant(),
        "upper" => Text(value, name, position).ToUpperInvariant(),
        "trim" => Trim(Text(value, name, position), args),
        "replace" => Replace(Text(value, name, position), args, position),
        "length" or "len" or "count" => Length(value, position),
        "first" => First(value, position),
        "last" => Last(value, position),
        "join" => Join(value, args, position),
        "split" => Split(Text(value, name, position), args),
        "tojson" => args.Get(0, "indent", null) is long indent ? Values.ToIndentedJson(value, (int)indent) : Values.ToJson(value, compact: true),
        "fromjson" => FromJson(Text(value, name, position), position),
        "b64encode" => Convert.ToBase64String(Encoding.UTF8.GetBytes(Values.Render(value))),
        "b64decode" => B64Decode(Text(value, name, position), position),
        "keys" => Values.NewArray(Mapping(value, name, position).Select(p => (object?)p.Key)),
        "values" => Values.NewArray(Mapping(value, name, position).Select(p => Values.FromNode(p.Value))),
        "items" => Values.NewArray(Mapping(value, name, position).Select(p => (object?)Values.NewArray([p.Key, Values.FromNode(p.Value)]))),
        "get" => Get(value, args),
        "safe" => value,
        _ => throw new EvaluationError($"unknown filter '{name}'", position),
    };

    /// <summary><c>default(x, boolean=false)</c>: replaces undefined (and JSON null), or any falsy value when boolean is true.</summary>
    private static object? Default(object? value, Arguments args)
    {
        var replaceFalsy = Values.IsTruthy(args.Get(1, "boolean", false));
        var missing = value is Undefined || (replaceFalsy && !Values.IsTruthy(value));
        return missing ? args.Get(0, "default_value", "") : value;
    }

    private static object? ToInt(object? value, Arguments args)
    {
        var fallback = args.Get(0, "default", 0L);
        return value switch
        {
            long l => l,
            double d when double.IsFinite(d) => (long)Math.Truncate(d),
            bool b => b ? 1L : 0L,
            string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => l,
            string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) => (long)Math.Truncate(d),
            _ => fallback,
        };
    }

    private static object? ToFloat(object? value, Arguments args)
    {
        var fallback = args.Get(0, "default", 0.0);
        return value switch
        {
            long l => (double)l,
            double d => d,
            bool b => b ? 1.0 : 0.0,
            string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            _ => fallback,
        };
    }

    private static string Text(object? value, string filter, int position) => value switch
    {
        string s => s,
        Undefined => "",
        JsonObject or JsonArray => throw new EvaluationError($"filter '{filter}' expects a string, got {Values.TypeName(value)}", position),
        _ => Values.Render(value),
    };

    private static string Trim(string text, Arguments args) =>
        args.Get(0, "chars", null) is string chars ? text.Trim(chars.ToCharArray()) : text.Trim();

    private static string Replace(string text, Arguments args, int position)
    {
        var old = Values.Render(args.Required(0, "old"));
        var replacement = Values.Render(args.Required(1, "new"));
        var count = args.Get(2, "count", null) is long n ? n : -1;
        if (old.Length == 0)
            throw new EvaluationError("replace: the string to replace must not be empty", position);
        var sb = new StringBuilder();
        var start = 0;
        for (var done = 0L; count < 0 || done < count; done++)
        {
            var hit = text.IndexOf(old, start, StringComparison.Ordinal);
            if (hit < 0)
                break;
            sb.Append(text, start, hit - start).Append(replacement);
            start = hit + old.Length;
        }
        return sb.Append(text, start, text.Length - start).ToString();
    }

    private static long Length(object? value, int position) => value switch
    {
        string s => s.Length,
        JsonArray a => a.Count,
        JsonObject o => o.Count,
        Undefined or null => 0,
        _ => throw new EvaluationError($"length: {Values.TypeName(value)} has no length", position),
    };

    private static object? First(object? value, int position) => value switch
    {
        JsonArray a => a.Count > 0 ? Values.FromNode(a[0]) : Undefined.Instance,
        string s => s.Length > 0 ? s[..1] : Undefined.Instance,
        Undefined => Undefined.Instance,
        _ => throw new EvaluationError($"first: {Values.TypeName(value)} is not a sequence", position),
    };

    private static object? Last(object? value, int position) => value switch
    {
        JsonArray a => a.Count > 0 ? Values.FromNode(a[^1]) : Undefined.Instance,
        string s => s.Length > 0 ? s[^1..] : Undefined.Instance,
        Undefined => Undefined.Instance,
        _ => throw new EvaluationError($"last: {Values.TypeName(value)} is not a sequence", position),
    };

    private static string Join(object? value, Arguments args, int position)
    {
        var separator = Values.Render(args.Get(0, "d", ""));
        var attribute = args.Get(1, "attribute", null);
        var items = Values.Iterate(value, position);
        if (attribute is not null)
            items = items.Select(item => GetItemExpr.GetItem(item, attribute));
        return string.Join(separator, items.Select(Values.Render));
    }

    /// <summary>Python <c>str.split</c>: no separator splits on runs of whitespace and drops empty pieces.</summary>
    private static JsonArray Split(string text, Arguments args)
    {
        var separator = args.Get(0, "sep", null);
        var maxSplit = args.Get(1, "maxsplit", -1L) is long m ? m : -1;
        string[] parts;
        if (separator is null or Undefined)
        {
            var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (maxSplit >= 0 && words.Length > maxSplit + 1)
            {
                var head = text.TrimStart().Split((char[]?)null, (int)maxSplit + 1, StringSplitOptions.RemoveEmptyEntries);
                head[^1] = head[^1].TrimStart();
                words = head;
            }
            parts = words;
        }
        else
        {
            var sep = Values.Render(separator);
            parts = maxSplit >= 0 ? text.Split(sep, (int)maxSplit + 1) : text.Split(sep);
        }
        return Values.NewArray(parts.Select(p => (object?)p));
    }

    private static object? FromJson(string text, int position)
    {
        try
        {
            var node = JsonNode.Parse(text);
            // A top-level JSON null is an explicit None, unlike a null member in the context.
            return node is null ? null : Values.FromNode(node);
        }
        catch (JsonException e)
        {
            throw new EvaluationError($"fromjson: invalid JSON: {e.Message}", position);
        }
    }

    private static string B64Decode(string text, int position)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(text.Trim()));
        }
        catch (FormatException)
        {
            throw new EvaluationError("b64decode: invalid base64 input", position);
        }
    }

    private static JsonObject Mapping(object? value, string filter, int position) => value switch
    {
        JsonObject o => o,
        Undefined => [],
        _ => throw new EvaluationError($"{filter}: {Values.TypeName(value)} is not a mapping", position),
    };

    private static object? Get(object? value, Arguments args)
    {
        var found = GetItemExpr.GetItem(value, args.Required(0, "key"));
        return found is Undefined ? args.Get(1, "default", Undefined.Instance) : found;
    }
}
