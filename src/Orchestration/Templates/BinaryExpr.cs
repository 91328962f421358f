using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Templates;

/// <summary>Arithmetic with Python semantics: int stays int except for <c>/</c>, <c>//</c> floors, <c>%</c> takes the divisor's sign.</summary>
internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Position) : Expr(Position)
{
    public override object? Eval(Frame frame)
    {
        var left = Left.Eval(frame);
        var right = Right.Eval(frame);
        if (Op == "~")
            return Values.Render(left) + Values.Render(right);
        return (Op, left, right) switch
        {
            ("+", string a, string b) => a + b,
            // Undefined concatenates as "" so a missing optional piece does not break a URL or message.
            ("+", string a, Undefined) => a,
            ("+", Undefined, string b) => b,
            ("+", JsonArray a, JsonArray b) => Values.NewArray(a.Select(Values.FromNode).Concat(b.Select(Values.FromNode))),
            ("*", string s, long n) => string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, n))),
            ("*", long n, string s) => string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, n))),
            _ => Numeric(left, right),
        };
    }

    private object Numeric(object? left, object? right)
    {
        if (!IsNumeric(left) || !IsNumeric(right))
            throw new EvaluationError($"unsupported operand types for {Op}: {Values.TypeName(left)} and {Values.TypeName(right)}", Position);
        if (AsLong(left) is { } a && AsLong(right) is { } b)
        {
            // Arms are boxed individually: a switch over long and double arms would otherwise widen every result to double.
            return Op switch
            {
                "+" => (object)(a + b),
                "-" => a - b,
                "*" => a * b,
                "/" => b == 0 ? throw DivisionByZero() : (double)a / b,
                "//" => b == 0 ? throw DivisionByZero() : FloorDiv(a, b),
                "%" => b == 0 ? throw DivisionByZero() : ((a % b) + b) % b,
                "**" => b >= 0 ? (object)(long)Math.Pow(a, b) : Math.Pow(a, b),
                _ => throw new EvaluationError($"unknown operator {Op}", Position),
            };
        }
        Values.TryNumber(left, out var x);
        Values.TryNumber(right, out var y);
        return Op switch
        {
            "+" => x + y,
            "-" => x - y,
            "*" => x * y,
            "/" => y == 0 ? throw DivisionByZero() : x / y,
            "//" => y == 0 ? throw DivisionByZero() : Math.Floor(x / y),
            "%" => y == 0 ? throw DivisionByZero() : x - (y * Math.Floor(x / y)),
            "**" => Math.Pow(x, y),
            _ => throw new EvaluationError($"unknown operator {Op}", Position),
        };
    }

    private static bool IsNumeric(object? value) => value is long or double or bool;

    private static long? AsLong(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => null,
    };

    private static long FloorDiv(long a, long b)
    {
        var q = a / b;
        return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q;
    }

    private EvaluationError DivisionByZero() => new("division by zero", Position);
}
