using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Templates;

/// <summary>Chainable undefined: attribute access yields undefined, it renders as "" and is falsy.</summary>
internal sealed class Undefined
{
    public static readonly Undefined Instance = new();

    private Undefined() { }
}

/// <summary>
/// Template values are: <see cref="Undefined"/>, null (None), bool, long, double, string, <see cref="JsonArray"/>, <see cref="JsonObject"/>.
/// Containers are read in place from the context and only cloned when a new container must own them.
/// </summary>
internal static class Values
{
    private static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    /// <summary>JSON null (and a missing node) becomes undefined, as the spec requires.</summary>
    public static object? FromNode(JsonNode? node) => node switch
    {
        null => Undefined.Instance,
        JsonObject or JsonArray => node,
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number => NumberOf(v),
            JsonValueKind.Null => Undefined.Instance,
            // JsonValue.Create(poco) can hold an object or array; expose it as a real container.
            _ => JsonNode.Parse(v.ToJsonString()),
        },
        _ => Undefined.Instance,
    };

    private static object NumberOf(JsonValue v)
    {
        if (v.TryGetValue<long>(out var l))
            return l;
        if (v.TryGetValue<int>(out var i))
            return (long)i;
        if (v.TryGetValue<double>(out var d))
            return d;
        if (v.TryGetValue<decimal>(out var m))
            return decimal.Truncate(m) == m && m is >= long.MinValue and <= long.MaxValue ? (long)m : (double)m;
        var text = v.ToJsonString();
        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed)
            ? parsed
            : double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    /// <summary>A node the caller may attach anywhere (containers with a parent are cloned).</summary>
    public static JsonNode? ToNode(object? value) => value switch
    {
        null or Undefined => null,
        bool b => JsonValue.Create(b),
        long l => JsonValue.Create(l),
        double d => double.IsFinite(d) ? JsonValue.Create(d) : null,
        string s => JsonValue.Create(s),
        JsonNode n => n.Parent is null ? n : n.DeepClone(),
        _ => throw new InvalidOperationException($"not a template value: {value.GetType()}"),
    };

    /// <summary>A fresh, unattached copy, for values handed out of the engine.</summary>
    public static JsonNode? ToOwnedNode(object? value) => value is JsonNode n ? n.DeepClone() : ToNode(value);

    public static bool IsTruthy(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        JsonArray a => a.Count > 0,
        JsonObject o => o.Count > 0,
        _ => true,
    };

    public static string TypeName(object? value) => value switch
    {
        null => "none",
        Undefined => "undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "string",
        JsonArray => "list",
        JsonObject => "dict",
        _ => value.GetType().Name,
    };

    /// <summary>Python-style rendering: True/False/None, undefined as "", containers as JSON so they can be re-parsed.</summary>
    public static string Render(object? value, RenderBudget budget, int position) =>
        value is JsonObject or JsonArray ? ToJson(value, compact: false, budget, position) : RenderScalar(value);

    public static string RenderScalar(object? value) => value switch
    {
        null => "None",
        Undefined => "",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatFloat(d),
        string s => s,
        _ => throw new InvalidOperationException($"not a scalar: {TypeName(value)}"),
    };

    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d))
            return "nan";
        if (double.IsInfinity(d))
            return d > 0 ? "inf" : "-inf";
        if (d == Math.Floor(d) && Math.Abs(d) < 1e16)
            return d.ToString("0.0", CultureInfo.InvariantCulture);
        return d.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal);
    }

    /// <summary>JSON text; compact is <c>{"a":1}</c> (tojson), otherwise <c>{"a": 1}</c> (Python/minijinja display).</summary>
    public static string ToJson(object? value, bool compact, RenderBudget budget, int position) =>
        new JsonWriter(budget, compact ? JsonLayout.Compact : JsonLayout.Spaced, 0, position).Write(value);

    /// <summary>JSON text with each member on its own line, like Python's <c>json.dumps(indent=n)</c>.</summary>
    public static string ToIndentedJson(object? value, int indent, RenderBudget budget, int position) =>
        new JsonWriter(budget, JsonLayout.Indented, indent, position).Write(value);

    private enum JsonLayout { Compact, Spaced, Indented }

    /// <summary>Writes under the render's length and depth limits, so a large or deep value fails before it is fully copied.</summary>
    private sealed class JsonWriter(RenderBudget budget, JsonLayout layout, int indent, int position)
    {
        private readonly StringBuilder _sb = new();

        public string Write(object? value)
        {
            WriteValue(value, 0);
            budget.Produce(_sb.Length, position);
            return _sb.ToString();
        }

        private void WriteValue(object? value, int depth)
        {
            switch (value)
            {
                case null or Undefined:
                    Append("null");
                    break;
                case bool b:
                    Append(b ? "true" : "false");
                    break;
                case long l:
                    Append(l.ToString(CultureInfo.InvariantCulture));
                    break;
                case double d:
                    Append(double.IsFinite(d) ? FormatFloat(d) : "null");
                    break;
                case string s:
                    budget.CheckLength(_sb.Length + (long)s.Length, position);
                    Append(JsonSerializer.Serialize(s, new JsonSerializerOptions { Encoder = Encoder }));
                    break;
                case JsonArray a:
                    WriteContainer('[', ']', a.Select(item => ((string?)null, FromNodeKeepingNull(item))), depth);
                    break;
                case JsonObject o:
                    WriteContainer('{', '}', o.Select(p => ((string?)p.Key, FromNodeKeepingNull(p.Value))), depth);
                    break;
            }
        }

        private void WriteContainer(char open, char close, IEnumerable<(string? Key, object? Value)> members, int depth)
        {
            budget.CheckDepth(depth + 1, position);
            _sb.Append(open);
            var count = 0;
            foreach (var (key, value) in members)
            {
                if (count++ > 0)
                    Append(layout == JsonLayout.Spaced ? ", " : ",");
                if (layout == JsonLayout.Indented)
                    NewLine(depth + 1);
                if (key is not null)
                {
                    WriteValue(key, depth);
                    Append(layout == JsonLayout.Compact ? ":" : ": ");
                }
                WriteValue(value, depth + 1);
            }
            if (layout == JsonLayout.Indented && count > 0)
                NewLine(depth);
            Append(close.ToString());
        }

        private void NewLine(int level)
        {
            var spaces = (long)indent * level;
            budget.CheckLength(_sb.Length + 1 + spaces, position);
            _sb.Append('\n').Append(' ', (int)spaces);
        }

        private void Append(string text) => budget.Append(_sb, text, position);
    }

    // Inside containers a JSON null is data, not a missing variable.
    private static object? FromNodeKeepingNull(JsonNode? node) => node is null ? null : FromNode(node);

    public static bool AreEqual(object? a, object? b, RenderBudget budget, int position) => AreEqual(a, b, budget, position, 0);

    private static bool AreEqual(object? a, object? b, RenderBudget budget, int position, int depth)
    {
        if (a is Undefined || b is Undefined)
            return a is Undefined && b is Undefined;
        if (a is null || b is null)
            return a is null && b is null;
        if (TryNumber(a, out var x) && TryNumber(b, out var y))
            return x == y;
        if (a is JsonArray or JsonObject)
        {
            budget.CheckDepth(depth + 1, position);
            budget.Charge(1, position);
        }
        return (a, b) switch
        {
            (string s, string t) => s == t,
            (JsonArray m, JsonArray n) => m.Count == n.Count
                && m.Zip(n).All(p => AreEqual(FromNodeKeepingNull(p.First), FromNodeKeepingNull(p.Second), budget, position, depth + 1)),
            (JsonObject m, JsonObject n) => m.Count == n.Count
                && m.All(p => n.TryGetPropertyValue(p.Key, out var other) && AreEqual(FromNodeKeepingNull(p.Value), FromNodeKeepingNull(other), budget, position, depth + 1)),
            _ => false,
        };
    }

    /// <summary>Orders numbers and strings; other pairs are incomparable and yield null (the comparison is then false).</summary>
    public static int? Compare(object? a, object? b)
    {
        if (a is not bool && b is not bool && TryNumber(a, out var x) && TryNumber(b, out var y))
            return x.CompareTo(y);
        if (a is string s && b is string t)
            return string.CompareOrdinal(s, t);
        return null;
    }

    /// <summary>Numeric view of a value; bools count as 0/1 like Python.</summary>
    public static bool TryNumber(object? value, out double number)
    {
        switch (value)
        {
            case long l:
                number = l;
                return true;
            case double d:
                number = d;
                return true;
            case bool b:
                number = b ? 1 : 0;
                return true;
            default:
                number = 0;
                return false;
        }
    }

    public static IEnumerable<object?> Iterate(object? value, int position) => value switch
    {
        Undefined or null => [],
        JsonArray a => a.Select(FromNode),
        JsonObject o => o.Select(p => (object?)p.Key),
        string s => s.Select(c => (object?)c.ToString()),
        _ => throw new EvaluationError($"{TypeName(value)} is not iterable", position),
    };

    public static JsonArray NewArray(IEnumerable<object?> items) => new(items.Select(ToNode).ToArray());
}
