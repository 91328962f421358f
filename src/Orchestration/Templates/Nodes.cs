using System.Text;
using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Templates;

/// <summary>Variable resolution for one render: loop variables over the root scope, and what the render may still spend.</summary>
internal sealed class Frame(TemplateScope root, RenderBudget budget)
{
    private readonly List<Dictionary<string, object?>> _locals = [];

    public RenderBudget Budget => budget;

    public object? Lookup(string name)
    {
        for (var i = _locals.Count - 1; i >= 0; i--)
        {
            if (_locals[i].TryGetValue(name, out var local))
                return local;
        }
        return root.TryGet(name, out var node) ? Values.FromNode(node) : Undefined.Instance;
    }

    public void Push(Dictionary<string, object?> locals) => _locals.Add(locals);

    public void Pop() => _locals.RemoveAt(_locals.Count - 1);
}

internal abstract record TemplateNode
{
    public abstract void Render(Frame frame, StringBuilder output);
}

internal sealed record TextNode(string Text) : TemplateNode
{
    public override void Render(Frame frame, StringBuilder output) => frame.Budget.Append(output, Text, 0);
}

internal sealed record OutputNode(Expr Expression) : TemplateNode
{
    public override void Render(Frame frame, StringBuilder output)
    {
        var position = Expression.Position;
        frame.Budget.Charge(1, position);
        frame.Budget.Append(output, Values.Render(Expression.Eval(frame), frame.Budget, position), position);
    }
}

internal sealed record IfNode(IReadOnlyList<(Expr Condition, IReadOnlyList<TemplateNode> Body)> Branches, IReadOnlyList<TemplateNode> Else) : TemplateNode
{
    public override void Render(Frame frame, StringBuilder output)
    {
        foreach (var (condition, body) in Branches)
        {
            if (Values.IsTruthy(condition.Eval(frame)))
            {
                RenderAll(body, frame, output);
                return;
            }
        }
        RenderAll(Else, frame, output);
    }

    public static void RenderAll(IReadOnlyList<TemplateNode> nodes, Frame frame, StringBuilder output)
    {
        foreach (var node in nodes)
            node.Render(frame, output);
    }
}

/// <summary><c>{% for a[, b] in expr %}</c>; exposes <c>loop.index/index0/first/last/length</c> like Jinja.</summary>
internal sealed record ForNode(IReadOnlyList<string> Targets, Expr Iterable, IReadOnlyList<TemplateNode> Body, int Position) : TemplateNode
{
    public override void Render(Frame frame, StringBuilder output)
    {
        var items = Values.Iterate(Iterable.Eval(frame), Iterable.Position).ToList();
        // Charged up front: nested loops multiply, and 3000 x 3000 iterations must stop at the budget, not after it.
        frame.Budget.Charge(items.Count, Position);
        for (var i = 0; i < items.Count; i++)
        {
            var locals = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["loop"] = new JsonObject
                {
                    ["index"] = i + 1,
                    ["index0"] = i,
                    ["first"] = i == 0,
                    ["last"] = i == items.Count - 1,
                    ["length"] = items.Count,
                },
            };
            Bind(locals, items[i]);
            frame.Push(locals);
            try
            {
                IfNode.RenderAll(Body, frame, output);
            }
            finally
            {
                frame.Pop();
            }
        }
    }

    private void Bind(Dictionary<string, object?> locals, object? item)
    {
        if (Targets.Count == 1)
        {
            locals[Targets[0]] = item;
            return;
        }
        if (item is not JsonArray tuple || tuple.Count != Targets.Count)
            throw new EvaluationError($"cannot unpack {Values.TypeName(item)} into {Targets.Count} loop variables", Position);
        for (var i = 0; i < Targets.Count; i++)
            locals[Targets[i]] = Values.FromNode(tuple[i]);
    }
}

internal abstract record Expr(int Position)
{
    public abstract object? Eval(Frame frame);
}

internal sealed record LiteralExpr(object? Value, int Position) : Expr(Position)
{
    public override object? Eval(Frame frame) => Value;
}

internal sealed record NameExpr(string Name, int Position) : Expr(Position)
{
    public override object? Eval(Frame frame) => frame.Lookup(Name);
}

internal sealed record ListExpr(IReadOnlyList<Expr> Items, int Position) : Expr(Position)
{
    public override object? Eval(Frame frame) => Values.NewArray(Items.Select(i => i.Eval(frame)));
}

internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Entries, int Position) : Expr(Position)
{
    public override object? Eval(Frame frame)
    {
        var result = new JsonObject();
        foreach (var (key, value) in Entries)
            result[Values.Render(key.Eval(frame), frame.Budget, Position)] = Values.ToNode(value.Eval(frame));
        return result;
    }
}

/// <summary><c>a.b</c> and <c>a[b]</c>: missing members and members of undefined are undefined (chainable).</summary>
internal sealed record GetItemExpr(Expr Target, Expr Key, int Position) : Expr(Position)
{
    public override object? Eval(Frame frame) => GetItem(Target.Eval(frame), Key.Eval(frame));

    public static object? GetItem(object? target, object? key) => (target, key) switch
    {
        (JsonObject o, string name) => o.TryGetPropertyValue(name, out var child) ? Values.FromNode(child) : Undefined.Instance,
        (JsonObject o, long or double or bool) => o.TryGetPropertyValue(Values.RenderScalar(key), out var child) ? Values.FromNode(child) : Undefined.Instance,
        (JsonArray a, long index) => Index(a.Count, index) is { } i ? Values.FromNode(a[i]) : Undefined.Instance,
        (JsonArray a, string text) when long.TryParse(text, out var index) => Index(a.Count, index) is { } i ? Values.FromNode(a[i]) : Undefined.Instance,
        (string s, long index) => Index(s.Length, index) is { } i ? s[i].ToString() : Undefined.Instance,
        _ => Undefined.Instance,
    };

    private static int? Index(int count, long index)
    {
        var i = index < 0 ? count + index : index;
        return i >= 0 && i < count ? (int)i : null;
    }
}

internal sealed record NotExpr(Expr Operand, int Position) : Expr(Position)
{
    public override object? Eval(Frame frame) => !Values.IsTruthy(Operand.Eval(frame));
}

/// <summary>Python <c>and</c>/<c>or</c>: short-circuit and return an operand, not a bool.</summary>
internal sealed record LogicalExpr(bool IsAnd, Expr Left, Expr Right, int Position) : Expr(Position)
{
    public override object? Eval(Frame frame)
    {
        var left = Left.Eval(frame);
        return Values.IsTruthy(left) == IsAnd ? Right.Eval(frame) : left;
    }
}

internal sealed record ConditionalExpr(Expr WhenTrue, Expr Condition, Expr? WhenFalse, int Position) : Expr(Position)
{
    public override object? Eval(Frame frame) =>
        Values.IsTruthy(Condition.Eval(frame)) ? WhenTrue.Eval(frame) : WhenFalse?.Eval(frame) ?? Undefined.Instance;
}

/// <summary>A comparison chain <c>a &lt; b &lt;= c</c>, true when every pair holds.</summary>
internal sealed record CompareExpr(Expr First, IReadOnlyList<(string Op, Expr Operand)> Rest, int Position) : Expr(Position)
{
    public override object? Eval(Frame frame)
    {
        var left = First.Eval(frame);
        foreach (var (op, operand) in Rest)
        {
            var right = operand.Eval(frame);
            if (!Holds(op, left, right, frame.Budget))
                return false;
            left = right;
        }
        return true;
    }

    private bool Holds(string op, object? left, object? right, RenderBudget budget) => op switch
    {
        "==" => Values.AreEqual(left, right, budget, Position),
        "!=" => !Values.AreEqual(left, right, budget, Position),
        "<" => Values.Compare(left, right) is < 0,
        "<=" => Values.Compare(left, right) is <= 0,
        ">" => Values.Compare(left, right) is > 0,
        ">=" => Values.Compare(left, right) is >= 0,
        "in" => Contains(right, left, budget),
        "not in" => !Contains(right, left, budget),
        _ => throw new EvaluationError($"unknown operator {op}", Position),
    };

    private bool Contains(object? container, object? item, RenderBudget budget) => container switch
    {
        string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
        string => throw new EvaluationError($"'in <string>' requires a string, not {Values.TypeName(item)}", Position),
        JsonArray a => ContainsItem(a, item, budget),
        JsonObject o => item is string key && o.ContainsKey(key),
        Undefined or null => false,
        _ => throw new EvaluationError($"{Values.TypeName(container)} is not a container", Position),
    };

    private bool ContainsItem(JsonArray array, object? item, RenderBudget budget)
    {
        budget.Charge(array.Count, Position);
        return array.Any(e => Values.AreEqual(Values.FromNode(e), item, budget, Position));
    }
}

internal sealed record NegateExpr(Expr Operand, bool Negative, int Position) : Expr(Position)
{
    public override object? Eval(Frame frame) => Operand.Eval(frame) switch
    {
        long.MinValue when Negative => throw new EvaluationError("integer overflow in unary -", Position),
        long l => (object)(Negative ? -l : l),
        double d => Negative ? -d : d,
        bool b => Negative ? -(b ? 1L : 0L) : b ? 1L : 0L,
        var other => throw new EvaluationError($"bad operand type for unary {(Negative ? "-" : "+")}: {Values.TypeName(other)}", Position),
    };
}

internal sealed record FilterExpr(Expr Target, string Name, IReadOnlyList<Argument> Arguments, int Position) : Expr(Position)
{
    public override object? Eval(Frame frame)
    {
        frame.Budget.Charge(1, Position);
        return Filters.Apply(Name, Target.Eval(frame), new Arguments(Arguments, frame, Name, Position), frame.Budget, Position);
    }
}

internal sealed record TestExpr(Expr Target, string Name, bool Negated, int Position) : Expr(Position)
{
    public override object? Eval(Frame frame) => Tests.Apply(Name, Target.Eval(frame), Position) != Negated;
}

/// <summary>A filter/test argument, positional when <see cref="Name"/> is null.</summary>
internal sealed record Argument(string? Name, Expr Value);

/// <summary>Evaluated lazily so <c>default(expensive)</c> costs nothing when unused.</summary>
internal sealed class Arguments(IReadOnlyList<Argument> arguments, Frame frame, string owner, int position)
{
    public int Count => arguments.Count;

    public object? Get(int index, string name, object? fallback)
    {
        var named = arguments.FirstOrDefault(a => a.Name == name);
        if (named is not null)
            return named.Value.Eval(frame);
        return index < arguments.Count && arguments[index].Name is null ? arguments[index].Value.Eval(frame) : fallback;
    }

    public object? Required(int index, string name) =>
        Has(index, name) ? Get(index, name, null) : throw new EvaluationError($"{owner}: missing argument '{name}'", position);

    private bool Has(int index, string name) =>
        arguments.Any(a => a.Name == name) || (index < arguments.Count && arguments[index].Name is null);
}
