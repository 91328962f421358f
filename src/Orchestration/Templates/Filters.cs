using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Templates;

/// <summary>The filter set of the Rust control plane and worker (minijinja builtins plus NoETL's custom ones).</summary>
internal static class Filters
{
    /// <summary>Every name <see cref="Apply"/> handles; the parser refuses others, so a typo fails at registration, not mid-run.</summary>
    public static readonly HashSet<string> Names =
    [
        "default", "d", "int", "float", "string", "lower", "upper", "trim", "replace", "length", "len", "count", "first", "last",
        "join", "split", "tojson", "fromjson", "b64encode", "b64decode", "keys", "values", "items", "get", "safe",
    ];

    public static object? Apply(string name, object? value, Arguments args, RenderBudget budget, int position) => name switch
    {
        "default" or "d" => Default(value, args),
        "int" => ToInt(value, args),
        "float" => ToFloat(value, args),
        "string" => Values.Render(value, budget, position),
        "lower" => Text(value, name, budget, position).ToLowerInvariant(),
        "upper" => Text(value, name, budget, position).ToUpperInvariant(),
        "trim" => Trim(Text(value, name, budget, position), args),
        "replace" => Replace(Text(value, name, budget, position), args, budget, position),
        "length" or "len" or "count" => Length(value, position),
        "first" => First(value, position),
        "last" => Last(value, position),
        "join" => Join(value, args, budget, position),
        "split" => Split(Text(value, name, budget, position), args, budget, position),
        "tojson" => ToJson(value, args, budget, position),
        "fromjson" => FromJson(Text(value, name, budget, position), position),
        "b64encode" => B64Encode(Values.Render(value, budget, position), budget, position),
        "b64decode" => B64Decode(Text(value, name, budget, position), position),
        "keys" => Values.NewArray(Mapping(value, name, budget, position).Select(p => (object?)p.Key)),
        "values" => Values.NewArray(Mapping(value, name, budget, position).Select(p => Values.FromNode(p.Value))),
        "items" => Values.NewArray(Mapping(value, name, budget, position).Select(p => (object?)Values.NewArray([p.Key, Values.FromNode(p.Value)]))),
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

    private static string Text(object? value, string filter, RenderBudget budget, int position) => value switch
    {
        string s => s,
        Undefined => "",
        JsonObject or JsonArray => throw new EvaluationError($"filter '{filter}' expects a string, got {Values.TypeName(value)}", position),
        _ => Values.Render(value, budget, position),
    };

    private static string Trim(string text, Arguments args) =>
        args.Get(0, "chars", null) is string chars ? text.Trim(chars.ToCharArray()) : text.Trim();

    private static string Replace(string text, Arguments args, RenderBudget budget, int position)
    {
        var old = Values.Render(args.Required(0, "old"), budget, position);
        var replacement = Values.Render(args.Required(1, "new"), budget, position);
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
            budget.CheckLength(sb.Length + (long)(hit - start) + replacement.Length, position);
            sb.Append(text, start, hit - start).Append(replacement);
            start = hit + old.Length;
        }
        budget.Produce(sb.Length + (long)(text.Length - start), position);
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

    private static string Join(object? value, Arguments args, RenderBudget budget, int position)
    {
        var separator = Values.Render(args.Get(0, "d", ""), budget, position);
        var attribute = args.Get(1, "attribute", null);
        var items = Values.Iterate(value, position);
        if (attribute is not null)
            items = items.Select(item => GetItemExpr.GetItem(item, attribute));
        var sb = new StringBuilder();
        var first = true;
        foreach (var item in items)
        {
            if (!first)
                budget.Append(sb, separator, position);
            first = false;
            budget.Append(sb, Values.Render(item, budget, position), position);
        }
        budget.Produce(sb.Length, position);
        return sb.ToString();
    }

    /// <summary>Python <c>str.split</c>: no separator splits on runs of whitespace and drops empty pieces.</summary>
    private static JsonArray Split(string text, Arguments args, RenderBudget budget, int position)
    {
        var separator = args.Get(0, "sep", null);
        // More splits than the text has characters change nothing; the cap keeps "maxsplit + 1" inside int.
        var maxSplit = args.Get(1, "maxsplit", -1L) is long m ? Math.Min(m, text.Length) : -1;
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
            var sep = Values.Render(separator, budget, position);
            parts = maxSplit >= 0 ? text.Split(sep, (int)maxSplit + 1) : text.Split(sep);
        }
        budget.Charge(parts.Length, position);
        return Values.NewArray(parts.Select(p => (object?)p));
    }

    /// <summary><c>tojson</c>, or <c>tojson(indent=n)</c>; like Python, an indent below 1 only breaks lines.</summary>
    private static string ToJson(object? value, Arguments args, RenderBudget budget, int position) =>
        args.Get(0, "indent", null) is long indent
            ? Values.ToIndentedJson(value, (int)Math.Clamp(indent, 0, int.MaxValue), budget, position)
            : Values.ToJson(value, compact: true, budget, position);

    private static string B64Encode(string text, RenderBudget budget, int position)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        budget.Produce((bytes.Length + 2L) / 3 * 4, position);
        return Convert.ToBase64String(bytes);
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

    private static JsonObject Mapping(object? value, string filter, RenderBudget budget, int position) => value switch
    {
        JsonObject o => Charged(o, budget, position),
        Undefined => [],
        _ => throw new EvaluationError($"{filter}: {Values.TypeName(value)} is not a mapping", position),
    };

    private static JsonObject Charged(JsonObject mapping, RenderBudget budget, int position)
    {
        budget.Charge(mapping.Count, position);
        return mapping;
    }

    private static object? Get(object? value, Arguments args)
    {
        var found = GetItemExpr.GetItem(value, args.Required(0, "key"));
        return found is Undefined ? args.Get(1, "default", Undefined.Instance) : found;
    }
}
