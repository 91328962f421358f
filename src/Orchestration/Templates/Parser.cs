using System.Text;

namespace NoEtl.Orchestration.Templates;

/// <summary>Recursive-descent parser with Jinja's operator precedence, from loosest to tightest:
/// <c>x if c else y</c>, <c>or</c>, <c>and</c>, <c>not</c>, comparisons/<c>in</c>, <c>+ -</c>, <c>~</c>, <c>* / // %</c>, <c>**</c>,
/// unary sign, then postfix access with filters and tests.</summary>
internal sealed class Parser(List<Token> tokens)
{
    private static readonly HashSet<string> CompareOperators = ["==", "!=", "<", "<=", ">", ">="];
    private int _index;
    private int _depth;

    private Token Current => tokens[_index];

    /// <summary>
    /// The deepest nesting seen: blocks, sub-expressions, and each link of an operator, filter or attribute chain (a chain
    /// evaluates as a left-deep tree). Rendering recurses at most about this deep.
    /// </summary>
    public int Depth { get; private set; }

    /// <summary>One level deeper; refused past <see cref="TemplateLimits.DepthCeiling"/> before the recursion can exhaust the stack.</summary>
    private void Enter(int levels = 1)
    {
        _depth += levels;
        if (_depth > TemplateLimits.DepthCeiling)
            throw new EvaluationError($"template nesting deeper than {TemplateLimits.DepthCeiling} levels", Current.Position);
        Depth = Math.Max(Depth, _depth);
    }

    private void Leave(int levels = 1) => _depth -= levels;

    public List<TemplateNode> ParseTemplate()
    {
        var body = ParseBody(out var terminator);
        if (terminator is not null)
            throw new EvaluationError($"unexpected '{{% {terminator.Value.Text} %}}'", terminator.Value.Position);
        return body;
    }

    /// <summary>Parses nodes until end of input or a block tag this level does not own (returned as <paramref name="terminator"/>).</summary>
    private List<TemplateNode> ParseBody(out Token? terminator)
    {
        var nodes = new List<TemplateNode>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.End:
                    terminator = null;
                    return nodes;
                case TokenKind.Text:
                    _index++;
                    nodes.Add(new TextNode(token.Text));
                    break;
                case TokenKind.VariableBegin:
                    _index++;
                    var expression = ParseExpression();
                    Expect(TokenKind.VariableEnd, "}}");
                    nodes.Add(new OutputNode(expression));
                    break;
                case TokenKind.BlockBegin:
                    var keyword = tokens[_index + 1];
                    if (keyword.Kind != TokenKind.Name)
                        throw new EvaluationError("expected a statement keyword", keyword.Position);
                    switch (keyword.Text)
                    {
                        case "if":
                            _index += 2;
                            Enter();
                            nodes.Add(ParseIf());
                            Leave();
                            break;
                        case "for":
                            _index += 2;
                            Enter();
                            nodes.Add(ParseFor(token.Position));
                            Leave();
                            break;
                        case "elif" or "else" or "endif" or "endfor":
                            terminator = keyword;
                            return nodes;
                        default:
                            throw new EvaluationError($"unsupported statement '{keyword.Text}'", keyword.Position);
                    }
                    break;
                default:
                    throw new EvaluationError($"unexpected token '{token.Text}'", token.Position);
            }
        }
    }

    private IfNode ParseIf()
    {
        var branches = new List<(Expr, IReadOnlyList<TemplateNode>)>();
        IReadOnlyList<TemplateNode> elseBody = [];
        var condition = ParseExpression();
        while (true)
        {
            Expect(TokenKind.BlockEnd, "%}");
            var body = ParseBody(out var terminator);
            branches.Add((condition, body));
            if (terminator is null)
                throw new EvaluationError("missing '{% endif %}'", Current.Position);
            _index += 2;
            switch (terminator.Value.Text)
            {
                case "elif":
                    condition = ParseExpression();
                    continue;
                case "else":
                    Expect(TokenKind.BlockEnd, "%}");
                    elseBody = ParseBody(out var endTag);
                    if (endTag is not { Text: "endif" })
                        throw new EvaluationError("missing '{% endif %}'", endTag?.Position ?? Current.Position);
                    _index += 2;
                    Expect(TokenKind.BlockEnd, "%}");
                    return new IfNode(branches, elseBody);
                case "endif":
                    Expect(TokenKind.BlockEnd, "%}");
                    return new IfNode(branches, elseBody);
                default:
                    throw new EvaluationError($"unexpected '{{% {terminator.Value.Text} %}}' inside if", terminator.Value.Position);
            }
        }
    }

    private ForNode ParseFor(int position)
    {
        var targets = new List<string> { ExpectName() };
        while (AcceptOperator(","))
            targets.Add(ExpectName());
        if (!AcceptName("in"))
            throw new EvaluationError("expected 'in' in for loop", Current.Position);
        var iterable = ParseConditional();
        Expect(TokenKind.BlockEnd, "%}");
        var body = ParseBody(out var terminator);
        if (terminator is not { Text: "endfor" })
            throw new EvaluationError("missing '{% endfor %}'", terminator?.Position ?? Current.Position);
        _index += 2;
        Expect(TokenKind.BlockEnd, "%}");
        return new ForNode(targets, iterable, body, position);
    }

    public Expr ParseExpression() => ParseConditional();

    private Expr ParseConditional()
    {
        Enter();
        var expr = ParseOr();
        var links = 0;
        while (Current is { Kind: TokenKind.Name, Text: "if" })
        {
            var position = Current.Position;
            _index++;
            Enter();
            links++;
            var condition = ParseOr();
            Expr? otherwise = AcceptName("else") ? ParseConditional() : null;
            expr = new ConditionalExpr(expr, condition, otherwise, position);
        }
        Leave(links + 1);
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        var links = 0;
        while (Current is { Kind: TokenKind.Name, Text: "or" })
        {
            var position = Current.Position;
            _index++;
            Enter();
            links++;
            left = new LogicalExpr(false, left, ParseAnd(), position);
        }
        Leave(links);
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        var links = 0;
        while (Current is { Kind: TokenKind.Name, Text: "and" })
        {
            var position = Current.Position;
            _index++;
            Enter();
            links++;
            left = new LogicalExpr(true, left, ParseNot(), position);
        }
        Leave(links);
        return left;
    }

    private Expr ParseNot()
    {
        if (Current is { Kind: TokenKind.Name, Text: "not" })
        {
            var position = Current.Position;
            _index++;
            Enter();
            var operand = ParseNot();
            Leave();
            return new NotExpr(operand, position);
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        var first = ParseAdditive();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && CompareOperators.Contains(Current.Text))
            {
                var op = Current.Text;
                _index++;
                rest.Add((op, ParseAdditive()));
            }
            else if (Current is { Kind: TokenKind.Name, Text: "in" })
            {
                _index++;
                rest.Add(("in", ParseAdditive()));
            }
            else if (Current is { Kind: TokenKind.Name, Text: "not" } && tokens[_index + 1] is { Kind: TokenKind.Name, Text: "in" })
            {
                _index += 2;
                rest.Add(("not in", ParseAdditive()));
            }
            else
            {
                break;
            }
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, first.Position);
    }

    private Expr ParseAdditive() => ParseBinary(ParseConcat, "+", "-");

    private Expr ParseConcat() => ParseBinary(ParseMultiplicative, "~");

    private Expr ParseMultiplicative() => ParseBinary(ParsePower, "*", "/", "//", "%");

    private Expr ParsePower() => ParseBinary(() => ParseUnary(withFilters: true), "**");

    private Expr ParseBinary(Func<Expr> operand, params string[] operators)
    {
        var left = operand();
        var links = 0;
        while (Current.Kind == TokenKind.Operator && operators.Contains(Current.Text))
        {
            var token = Current;
            _index++;
            Enter();
            links++;
            left = new BinaryExpr(token.Text, left, operand(), token.Position);
        }
        Leave(links);
        return left;
    }

    private Expr ParseUnary(bool withFilters)
    {
        Expr expr;
        if (Current is { Kind: TokenKind.Operator, Text: "-" or "+" })
        {
            var token = Current;
            _index++;
            Enter();
            expr = new NegateExpr(ParseUnary(withFilters: false), token.Text == "-", token.Position);
            Leave();
        }
        else
        {
            expr = ParsePostfix(ParsePrimary());
        }
        return withFilters ? ParseFiltersAndTests(expr) : expr;
    }

    private Expr ParsePrimary()
    {
        var token = Current;
        _index++;
        switch (token.Kind)
        {
            case TokenKind.Name:
                return token.Text switch
                {
                    "true" or "True" => new LiteralExpr(true, token.Position),
                    "false" or "False" => new LiteralExpr(false, token.Position),
                    "none" or "None" => new LiteralExpr(null, token.Position),
                    _ => new NameExpr(token.Text, token.Position),
                };
            case TokenKind.String:
                // Adjacent string literals concatenate, as in Python.
                var text = new StringBuilder((string)token.Value!);
                while (Current.Kind == TokenKind.String)
                    text.Append((string)tokens[_index++].Value!);
                return new LiteralExpr(text.ToString(), token.Position);
            case TokenKind.Integer or TokenKind.Float:
                return new LiteralExpr(token.Value, token.Position);
            case TokenKind.Operator when token.Text == "(":
                var inner = ParseExpression();
                if (AcceptOperator(","))
                {
                    var items = new List<Expr> { inner };
                    items.AddRange(ParseSequence(")"));
                    return new ListExpr(items, token.Position);
                }
                ExpectOperator(")");
                return inner;
            case TokenKind.Operator when token.Text == "[":
                return new ListExpr(ParseSequence("]"), token.Position);
            case TokenKind.Operator when token.Text == "{":
                return ParseDict(token.Position);
            default:
                throw new EvaluationError(token.Kind == TokenKind.VariableEnd || token.Kind == TokenKind.BlockEnd || token.Kind == TokenKind.End
                    ? "expected an expression"
                    : $"unexpected '{token.Text}'", token.Position);
        }
    }

    /// <summary>Comma-separated expressions up to <paramref name="closer"/>, allowing a trailing comma.</summary>
    private List<Expr> ParseSequence(string closer)
    {
        var items = new List<Expr>();
        while (!AcceptOperator(closer))
        {
            items.Add(ParseExpression());
            if (!AcceptOperator(","))
            {
                ExpectOperator(closer);
                break;
            }
        }
        return items;
    }

    private DictExpr ParseDict(int position)
    {
        var entries = new List<(Expr, Expr)>();
        while (!AcceptOperator("}"))
        {
            var key = ParseExpression();
            ExpectOperator(":");
            entries.Add((key, ParseExpression()));
            if (!AcceptOperator(","))
            {
                ExpectOperator("}");
                break;
            }
        }
        return new DictExpr(entries, position);
    }

    private Expr ParsePostfix(Expr expr)
    {
        var links = 0;
        while (Current.Kind == TokenKind.Operator)
        {
            Enter();
            links++;
            var token = Current;
            if (token.Text == ".")
            {
                _index++;
                var member = Current;
                _index++;
                expr = member.Kind switch
                {
                    TokenKind.Name => new GetItemExpr(expr, new LiteralExpr(member.Text, member.Position), token.Position),
                    TokenKind.Integer => new GetItemExpr(expr, new LiteralExpr(member.Value, member.Position), token.Position),
                    _ => throw new EvaluationError("expected an attribute name after '.'", member.Position),
                };
            }
            else if (token.Text == "[")
            {
                _index++;
                var key = ParseExpression();
                ExpectOperator("]");
                expr = new GetItemExpr(expr, key, token.Position);
            }
            else if (token.Text == "(")
            {
                throw new EvaluationError("function and method calls are not supported; use a filter", token.Position);
            }
            else
            {
                break;
            }
        }
        Leave(links);
        return expr;
    }

    private Expr ParseFiltersAndTests(Expr expr)
    {
        var links = 0;
        while (true)
        {
            Enter();
            links++;
            if (AcceptOperator("|"))
            {
                var name = Current;
                var filterName = ExpectName();
                if (!Filters.Names.Contains(filterName))
                    throw new EvaluationError($"unknown filter '{filterName}'", name.Position);
                expr = new FilterExpr(expr, filterName, ParseCallArguments(), name.Position);
            }
            else if (Current is { Kind: TokenKind.Name, Text: "is" })
            {
                var position = Current.Position;
                _index++;
                var negated = AcceptName("not");
                var testName = Current.Kind == TokenKind.Name ? ExpectName() : throw new EvaluationError("expected a test name after 'is'", Current.Position);
                if (Current is { Kind: TokenKind.Operator, Text: "(" })
                    throw new EvaluationError("tests with arguments are not supported", Current.Position);
                if (!Tests.Names.Contains(testName))
                    throw new EvaluationError($"unknown test '{testName}'", position);
                expr = new TestExpr(expr, testName, negated, position);
            }
            else
            {
                Leave(links);
                return expr;
            }
        }
    }

    private List<Argument> ParseCallArguments()
    {
        var arguments = new List<Argument>();
        if (!AcceptOperator("("))
            return arguments;
        while (!AcceptOperator(")"))
        {
            string? name = null;
            if (Current.Kind == TokenKind.Name && tokens[_index + 1] is { Kind: TokenKind.Operator, Text: "=" })
            {
                name = Current.Text;
                _index += 2;
            }
            arguments.Add(new Argument(name, ParseExpression()));
            if (!AcceptOperator(","))
            {
                ExpectOperator(")");
                break;
            }
        }
        return arguments;
    }

    private bool AcceptOperator(string text)
    {
        if (Current.Kind != TokenKind.Operator || Current.Text != text)
            return false;
        _index++;
        return true;
    }

    private bool AcceptName(string text)
    {
        if (Current.Kind != TokenKind.Name || Current.Text != text)
            return false;
        _index++;
        return true;
    }

    private void ExpectOperator(string text)
    {
        if (!AcceptOperator(text))
            throw new EvaluationError($"expected '{text}'", Current.Position);
    }

    private string ExpectName()
    {
        if (Current.Kind != TokenKind.Name)
            throw new EvaluationError("expected a name", Current.Position);
        return tokens[_index++].Text;
    }

    private void Expect(TokenKind kind, string text)
    {
        if (Current.Kind != kind)
            throw new EvaluationError($"expected '{text}'", Current.Position);
        _index++;
    }
}
