using System.Globalization;
using System.Text;

namespace NoEtl.Orchestration.Templates;

internal enum TokenKind
{
    Text,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

internal readonly record struct Token(TokenKind Kind, string Text, object? Value, int Position);

/// <summary>Splits a template into text and tag tokens, tokenizing expressions inside <c>{{ }}</c> and <c>{% %}</c>.</summary>
internal sealed class Lexer(string source)
{
    // Longest operators first so "//" wins over "/".
    private static readonly string[] Operators =
        ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "<", ">", "(", ")", "[", "]", "{", "}", ",", ":", ".", "|", "~", "="];

    private readonly List<Token> _tokens = [];
    private int _pos;

    public List<Token> Tokenize()
    {
        var trimNextText = false;
        while (_pos < source.Length)
        {
            var tagStart = FindTagStart(_pos);
            var text = source[_pos..(tagStart < 0 ? source.Length : tagStart)];
            if (trimNextText)
                text = text.TrimStart();
            var textPosition = _pos;
            if (tagStart < 0)
            {
                AddText(text, textPosition);
                _pos = source.Length;
                break;
            }
            var opener = source.Substring(tagStart, 2);
            var stripBefore = tagStart + 2 < source.Length && source[tagStart + 2] == '-';
            if (stripBefore)
                text = text.TrimEnd();
            AddText(text, textPosition);
            _pos = tagStart + (stripBefore ? 3 : 2);
            if (opener == "{#")
            {
                var close = source.IndexOf("#}", _pos, StringComparison.Ordinal);
                if (close < 0)
                    throw new EvaluationError("unclosed comment", tagStart);
                trimNextText = close > 0 && source[close - 1] == '-';
                _pos = close + 2;
                continue;
            }
            var isVariable = opener == "{{";
            _tokens.Add(new Token(isVariable ? TokenKind.VariableBegin : TokenKind.BlockBegin, opener, null, tagStart));
            trimNextText = LexTag(isVariable ? "}}" : "%}", tagStart);
        }
        _tokens.Add(new Token(TokenKind.End, "", null, source.Length));
        return _tokens;
    }

    private void AddText(string text, int position)
    {
        if (text.Length > 0)
            _tokens.Add(new Token(TokenKind.Text, text, null, position));
    }

    private int FindTagStart(int from)
    {
        for (var i = source.IndexOf('{', from); i >= 0 && i + 1 < source.Length; i = source.IndexOf('{', i + 1))
        {
            if (source[i + 1] is '{' or '%' or '#')
                return i;
        }
        return -1;
    }

    /// <summary>Tokenizes up to the closing delimiter; returns whether it was written <c>-}}</c>/<c>-%}</c>.</summary>
    private bool LexTag(string closer, int tagStart)
    {
        var endKind = closer == "}}" ? TokenKind.VariableEnd : TokenKind.BlockEnd;
        // Like Jinja, the closer only counts outside brackets, so {{ {'a': {'b': 1}} }} works.
        var depth = 0;
        while (true)
        {
            while (_pos < source.Length && char.IsWhiteSpace(source[_pos]))
                _pos++;
            if (_pos >= source.Length)
                throw new EvaluationError($"unclosed tag, expected '{closer}'", tagStart);
            if (depth == 0 && source[_pos] == '-' && At(_pos + 1, closer))
            {
                _tokens.Add(new Token(endKind, closer, null, _pos));
                _pos += 3;
                return true;
            }
            if (depth == 0 && At(_pos, closer))
            {
                _tokens.Add(new Token(endKind, closer, null, _pos));
                _pos += 2;
                return false;
            }
            var token = LexExpressionToken();
            if (token.Kind == TokenKind.Operator)
                depth += token.Text switch { "(" or "[" or "{" => 1, ")" or "]" or "}" => depth > 0 ? -1 : 0, _ => 0 };
            _tokens.Add(token);
        }
    }

    private bool At(int position, string text) => string.CompareOrdinal(source, position, text, 0, text.Length) == 0;

    private Token LexExpressionToken()
    {
        var start = _pos;
        var c = source[_pos];
        if (char.IsLetter(c) || c == '_')
        {
            while (_pos < source.Length && (char.IsLetterOrDigit(source[_pos]) || source[_pos] == '_'))
                _pos++;
            return new Token(TokenKind.Name, source[start.._pos], null, start);
        }
        if (char.IsDigit(c))
            return LexNumber(start);
        if (c is '"' or '\'')
            return LexString(start, c);
        foreach (var op in Operators)
        {
            if (At(_pos, op))
            {
                _pos += op.Length;
                return new Token(TokenKind.Operator, op, null, start);
            }
        }
        throw new EvaluationError($"unexpected character '{c}'", start);
    }

    private Token LexNumber(int start)
    {
        while (_pos < source.Length && (char.IsDigit(source[_pos]) || source[_pos] == '_'))
            _pos++;
        var isFloat = false;
        // A dot followed by a digit is a fraction; "x.0" style attribute access never reaches here.
        if (_pos + 1 < source.Length && source[_pos] == '.' && char.IsDigit(source[_pos + 1]))
        {
            isFloat = true;
            _pos++;
            while (_pos < source.Length && (char.IsDigit(source[_pos]) || source[_pos] == '_'))
                _pos++;
        }
        if (_pos < source.Length && source[_pos] is 'e' or 'E')
        {
            var save = _pos;
            _pos++;
            if (_pos < source.Length && source[_pos] is '+' or '-')
                _pos++;
            if (_pos < source.Length && char.IsDigit(source[_pos]))
            {
                isFloat = true;
                while (_pos < source.Length && char.IsDigit(source[_pos]))
                    _pos++;
            }
            else
            {
                _pos = save;
            }
        }
        var text = source[start.._pos].Replace("_", "", StringComparison.Ordinal);
        if (isFloat)
            return new Token(TokenKind.Float, text, double.Parse(text, CultureInfo.InvariantCulture), start);
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var l)
            ? new Token(TokenKind.Integer, text, l, start)
            : new Token(TokenKind.Float, text, double.Parse(text, CultureInfo.InvariantCulture), start);
    }

    private Token LexString(int start, char quote)
    {
        _pos++;
        var sb = new StringBuilder();
        while (_pos < source.Length && source[_pos] != quote)
        {
            var c = source[_pos++];
            if (c != '\\' || _pos >= source.Length)
            {
                sb.Append(c);
                continue;
            }
            var escaped = source[_pos++];
            switch (escaped)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '\\' or '"' or '\'': sb.Append(escaped); break;
                case 'u' when _pos + 4 <= source.Length:
                    if (!int.TryParse(source.AsSpan(_pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
                        throw new EvaluationError("invalid \\u escape: expected four hex digits", _pos - 2);
                    sb.Append((char)code);
                    _pos += 4;
                    break;
                default: sb.Append('\\').Append(escaped); break;
            }
        }
        if (_pos >= source.Length)
            throw new EvaluationError("unterminated string literal", start);
        _pos++;
        return new Token(TokenKind.String, source[start.._pos], sb.ToString(), start);
    }
}
