using System.Text.Json.Nodes;

namespace NoEtl.Orchestration.Templates;

/// <summary>Arithmetic with Python semantics: int stays int except for <c>/</c>, <c>//</c> floors, <c>%</c> takes the divisor's sign.</summary>
internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Position) : Expr(Position)
{
    public override object? Eval(Frame frame)
    {
        var left = Left.Eval(frame);
        var right = Right.Eval(frame);
        var budget = frame.Budget;
        if (Op == "~")
            return Concat(Values.Render(left, budget, Position), Values.Render(right, budget, Position), budget);
        return (Op, left, right) switch
        {
            ("+", string a, string b) => Concat(a, b, budget),
            // Undefined concatenates as "" so a missing optional piece does not break a URL or message.
            ("+", string a, Undefined) => a,
            ("+", Undefined, string b) => b,
            ("+", JsonArray a, JsonArray b) => ConcatArrays(a, b, budget),
            ("*", string s, long n) => Repeat(s, n, budget),
            ("*", long n, string s) => Repeat(s, n, budget),
            _ => Numeric(left, right),
        };
    }

    private string Concat(string a, string b, RenderBudget budget)
    {
        budget.Produce(a.Length + (long)b.Length, Position);
        return a + b;
    }

    private JsonArray ConcatArrays(JsonArray a, JsonArray b, RenderBudget budget)
    {
        budget.Charge(a.Count + b.Count, Position);
        return Values.NewArray(a.Select(Values.FromNode).Concat(b.Select(Values.FromNode)));
    }

    private string Repeat(string s, long n, RenderBudget budget)
    {
        if (n <= 0 || s.Length == 0)
            return "";
        // Checked before the count is narrowed: "x" * 2147483648 must be refused, not wrapped to a negative count.
        budget.Produce(n > int.MaxValue ? long.MaxValue : s.Length * n, Position);
        return string.Concat(Enumerable.Repeat(s, (int)n));
    }

    private object Numeric(object? left, object? right)
    {
        if (!IsNumeric(left) || !IsNumeric(right))
            throw new EvaluationError($"unsupported operand types for {Op}: {Values.TypeName(left)} and {Values.TypeName(right)}", Position);
        if (AsLong(left) is { } a && AsLong(right) is { } b)
        {
            try
            {
                // Arms are boxed individually: a switch over long and double arms would otherwise widen every result to double.
                return Op switch
                {
                    "+" => (object)checked(a + b),
                    "-" => checked(a - b),
                    "*" => checked(a * b),
                    "/" => b == 0 ? throw DivisionByZero() : (double)a / b,
                    "//" => b == 0 ? throw DivisionByZero() : FloorDiv(a, b),
                    "%" => b == 0 ? throw DivisionByZero() : FloorMod(a, b),
                    "**" => b >= 0 ? (object)Power(a, b) : Math.Pow(a, b),
                    _ => throw new EvaluationError($"unknown operator {Op}", Position),
                };
            }
            catch (OverflowException)
            {
                // Python integers are unbounded; ours are 64-bit, so a result past that range is an error, not a wrapped value.
                throw new EvaluationError($"integer overflow in {Op}", Position);
            }
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
        var q = checked(a / b);
        return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q;
    }

    /// <summary>The remainder with the divisor's sign, without the intermediate sum that could overflow.</summary>
    private static long FloorMod(long a, long b)
    {
        var r = b == -1 ? 0 : a % b;
        return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
    }

    /// <summary>Exact integer power by squaring; overflows instead of rounding through double.</summary>
    private static long Power(long value, long exponent)
    {
        var result = 1L;
        while (exponent > 0)
        {
            if ((exponent & 1) == 1)
                result = checked(result * value);
            exponent >>= 1;
            if (exponent > 0)
                value = checked(value * value);
        }
        return result;
    }

    private EvaluationError DivisionByZero() => new("division by zero", Position);
}
