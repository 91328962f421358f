using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Templates;

/// <summary>Options for <see cref="Template.RenderValue(JsonNode?, TemplateScope, RenderOptions)"/>.</summary>
/// <param name="DeferKeychain">Leave strings mentioning <c>keychain.</c> unrendered; the worker resolves them.</param>
/// <param name="Limits">What the render may cost; <see cref="TemplateLimits.Default"/> when null.</param>
public sealed record RenderOptions(bool DeferKeychain = false, TemplateLimits? Limits = null)
{
    public static readonly RenderOptions Default = new();
}

/// <summary>The Jinja-subset template engine (noetl-dsl.md §3). Parsed templates are cached by their text.</summary>
public static class Template
{
    // Playbooks hold a bounded set of template texts; the cap only guards against unbounded distinct inputs.
    private const int CacheCapacity = 20_000;
    private static readonly ConcurrentDictionary<string, CompiledTemplate> Cache = new(StringComparer.Ordinal);
    private static readonly HashSet<string> FalsyConditionOutputs = ["", "false", "0", "no", "none", "null", "off", "{}", "[]"];

    /// <summary>True when <paramref name="text"/> contains <c>{{</c> or <c>{%</c>.</summary>
    public static bool IsTemplate(string text) =>
        text.Contains("{{", StringComparison.Ordinal) || text.Contains("{%", StringComparison.Ordinal);

    public static string Render(string template, JsonObject context) => Render(template, TemplateScope.Of(context));

    public static string Render(string template, TemplateScope scope, TemplateLimits? limits = null) =>
        Render(template, scope, new RenderBudget(limits ?? TemplateLimits.Default));

    private static string Render(string template, TemplateScope scope, RenderBudget budget)
    {
        var compiled = Compile(template);
        return Run(template, () => compiled.Render(new Frame(scope, budget)));
    }

    public static JsonNode? RenderToValue(string template, JsonObject context) => RenderToValue(template, TemplateScope.Of(context));

    /// <summary>
    /// Renders and types the output (§3.1): <c>{…}</c>/<c>[…]</c> parse as JSON, true/false become bools, integers and floats
    /// become numbers, <c>null</c>/<c>None</c>/empty become null, anything else stays a string. Text without template syntax is returned untouched.
    /// </summary>
    public static JsonNode? RenderToValue(string template, TemplateScope scope, TemplateLimits? limits = null) =>
        RenderToValue(template, scope, new RenderBudget(limits ?? TemplateLimits.Default));

    private static JsonNode? RenderToValue(string template, TemplateScope scope, RenderBudget budget)
    {
        if (!IsTemplate(template))
            return JsonValue.Create(template);
        var compiled = Compile(template);
        return Run(template, () =>
        {
            var frame = new Frame(scope, budget);
            if (compiled.SingleExpression is { } single && !compiled.HasSurroundingText)
            {
                compiled.CheckDepth(budget.Limits);
                // A lone {{ expr }} yields containers directly: the same as rendering them as JSON and re-parsing.
                var value = single.Eval(frame);
                // A lone name or dotted path is the value itself (Python render.py): "02134" stays text, not a number.
                if (IsPath(single))
                    return Values.ToOwnedNode(value);
                return value is JsonObject or JsonArray ? Values.ToOwnedNode(value) : TypeRendered(Values.Render(value, budget, 0), value, frame);
            }
            return TypeRendered(compiled.Render(frame), null, null);
        });
    }

    /// <summary>A name, or a path of <c>.attr</c>/<c>['key']</c> steps from one, with no filter, operator or index.</summary>
    private static bool IsPath(Expr expression) => expression switch
    {
        NameExpr => true,
        GetItemExpr { Key: LiteralExpr { Value: string } } item => IsPath(item.Target),
        _ => false,
    };

    /// <summary>Types rendered text; <paramref name="singleFrame"/> is set when it is the value of a lone <c>{{ expr }}</c>.</summary>
    private static JsonNode? TypeRendered(string rendered, object? singleValue, Frame? singleFrame)
    {
        var trimmed = rendered.Trim();
        if ((trimmed.StartsWith('{') && trimmed.EndsWith('}')) || (trimmed.StartsWith('[') && trimmed.EndsWith(']')))
        {
            if (TryParseJson(trimmed, out var parsed))
                return parsed;
            if (singleFrame is not null && TryParseJson(Values.ToJson(singleValue, compact: true, singleFrame.Budget, 0), out var viaJson))
                return viaJson;
            return JsonValue.Create(rendered);
        }
        switch (rendered)
        {
            case "true" or "True":
                return JsonValue.Create(true);
            case "false" or "False":
                return JsonValue.Create(false);
            case "" or "null" or "None":
                return null;
        }
        if (long.TryParse(rendered, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
            return JsonValue.Create(integer);
        if (double.TryParse(rendered, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var real)
            && double.IsFinite(real))
            return JsonValue.Create(real);
        return JsonValue.Create(rendered);
    }

    private static bool TryParseJson(string text, out JsonNode? node)
    {
        try
        {
            node = JsonNode.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            node = null;
            return false;
        }
    }

    public static JsonNode? RenderValue(JsonNode? value, JsonObject context, RenderOptions? options = null) =>
        RenderValue(value, TemplateScope.Of(context), options ?? RenderOptions.Default);

    /// <summary>Renders every template string inside <paramref name="value"/>, keys included, returning a new tree. The strings share one budget.</summary>
    public static JsonNode? RenderValue(JsonNode? value, TemplateScope scope, RenderOptions options) =>
        RenderValue(value, scope, options, new RenderBudget(options.Limits ?? TemplateLimits.Default));

    private static JsonNode? RenderValue(JsonNode? value, TemplateScope scope, RenderOptions options, RenderBudget budget)
    {
        switch (value)
        {
            case JsonObject obj:
                var renderedObject = new JsonObject();
                foreach (var (key, child) in obj)
                {
                    var renderedKey = IsTemplate(key) && !IsDeferred(key, options) ? Render(key, scope, budget) : key;
                    renderedObject[renderedKey] = RenderValue(child, scope, options, budget);
                }
                return renderedObject;
            case JsonArray array:
                return new JsonArray(array.Select(item => RenderValue(item, scope, options, budget)).ToArray());
            case JsonValue scalar when scalar.GetValueKind() == JsonValueKind.String:
                var text = scalar.GetValue<string>();
                return IsTemplate(text) && !IsDeferred(text, options) ? RenderToValue(text, scope, budget) : JsonValue.Create(text);
            default:
                return value?.DeepClone();
        }
    }

    /// <summary>
    /// The template strings in <paramref name="value"/> (keys included) that would fail to parse, as <see cref="RenderValue(JsonNode?, TemplateScope, RenderOptions)"/>
    /// would meet them with <paramref name="options"/>, each with its JSON path below <paramref name="path"/>.
    /// </summary>
    public static IEnumerable<(string Path, TemplateException Error)> Check(JsonNode? value, RenderOptions options, string path = "")
    {
        var limits = options.Limits ?? TemplateLimits.Default;
        switch (value)
        {
            case JsonObject obj:
                foreach (var (key, child) in obj)
                {
                    var childPath = path.Length == 0 ? key : $"{path}.{key}";
                    if (IsTemplate(key) && !IsDeferred(key, options) && Check(key, limits) is { } keyError)
                        yield return (childPath, keyError);
                    foreach (var error in Check(child, options, childPath))
                        yield return error;
                }
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    foreach (var error in Check(array[i], options, $"{path}[{i}]"))
                        yield return error;
                }
                break;
            case JsonValue scalar when scalar.GetValueKind() == JsonValueKind.String:
                var text = scalar.GetValue<string>();
                if (IsTemplate(text) && !IsDeferred(text, options) && Check(text, limits) is { } textError)
                    yield return (path, textError);
                break;
        }
    }

    /// <summary>Why <paramref name="condition"/> would fail to parse as <see cref="EvaluateCondition(string, TemplateScope, TemplateLimits?)"/> reads it; null if it parses.</summary>
    public static TemplateException? CheckCondition(string condition, TemplateLimits? limits = null)
    {
        var template = AsConditionTemplate(condition);
        var error = Check(template, limits ?? TemplateLimits.Default);
        if (error is null || template == condition)
            return error;
        // Positions count in the condition as written, not in the "{{ }}" wrapped around a bare expression.
        return new TemplateException(error.Reason, condition, Math.Max(0, error.Position - 3));
    }

    private static TemplateException? Check(string template, TemplateLimits limits)
    {
        try
        {
            Compile(template).CheckParsed(limits);
            return null;
        }
        catch (EvaluationError e)
        {
            return new TemplateException(e.Message, template, e.Position);
        }
    }

    private static bool IsDeferred(string text, RenderOptions options) =>
        options.DeferKeychain && text.Contains("keychain.", StringComparison.Ordinal);

    public static bool EvaluateCondition(string condition, JsonObject context) => EvaluateCondition(condition, TemplateScope.Of(context));

    /// <summary>Wraps a bare expression in <c>{{ }}</c>; false iff the output, trimmed and lower-cased, is a falsy word (§2.7).</summary>
    public static bool EvaluateCondition(string condition, TemplateScope scope, TemplateLimits? limits = null)
    {
        var rendered = Render(AsConditionTemplate(condition), scope, limits).Trim().ToLowerInvariant();
        return !FalsyConditionOutputs.Contains(rendered);
    }

    private static string AsConditionTemplate(string condition) => IsTemplate(condition) ? condition : "{{ " + condition + " }}";

    private static CompiledTemplate Compile(string template)
    {
        if (Cache.TryGetValue(template, out var cached))
            return cached;
        if (Cache.Count >= CacheCapacity)
            Cache.Clear();
        return Cache.GetOrAdd(template, CompiledTemplate.Parse);
    }

    private static T Run<T>(string template, Func<T> body)
    {
        try
        {
            return body();
        }
        catch (EvaluationError e)
        {
            throw new TemplateException(e.Message, template, e.Position);
        }
    }

    private sealed class CompiledTemplate
    {
        private readonly string _source;
        private readonly List<TemplateNode>? _nodes;
        private readonly EvaluationError? _error;
        private readonly int _depth;

        private CompiledTemplate(string source, List<TemplateNode>? nodes, EvaluationError? error, int depth)
        {
            _source = source;
            _nodes = nodes;
            _error = error;
            _depth = depth;
            if (nodes is null)
                return;
            var outputs = nodes.OfType<OutputNode>().ToList();
            var onlyWhitespaceAround = nodes.All(n => n is OutputNode || (n is TextNode t && string.IsNullOrWhiteSpace(t.Text)));
            if (outputs.Count == 1 && onlyWhitespaceAround)
            {
                SingleExpression = outputs[0].Expression;
                HasSurroundingText = nodes.Count > 1;
            }
        }

        /// <summary>The expression of a template that is one <c>{{ expr }}</c>, possibly padded with whitespace.</summary>
        public Expr? SingleExpression { get; }

        public bool HasSurroundingText { get; }

        // Parse failures are cached too, so a broken template is not re-parsed on every render.
        public static CompiledTemplate Parse(string source)
        {
            try
            {
                var parser = new Parser(new Lexer(source).Tokenize());
                var nodes = parser.ParseTemplate();
                return new CompiledTemplate(source, nodes, null, parser.Depth);
            }
            catch (EvaluationError e)
            {
                return new CompiledTemplate(source, null, e, 0);
            }
        }

        /// <summary>Throws the parse error, or a nesting error when the template is deeper than <paramref name="limits"/> allow.</summary>
        public void CheckParsed(TemplateLimits limits)
        {
            if (_error is not null)
                throw new EvaluationError(_error.Message, _error.Position);
            CheckDepth(limits);
        }

        public void CheckDepth(TemplateLimits limits)
        {
            if (_depth > limits.MaxDepth)
                throw new EvaluationError($"template nesting deeper than {limits.MaxDepth} levels", 0);
        }

        public string Render(Frame frame)
        {
            CheckParsed(frame.Budget.Limits);
            var output = new StringBuilder(_source.Length);
            IfNode.RenderAll(_nodes!, frame, output);
            return output.ToString();
        }
    }
}
