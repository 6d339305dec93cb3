namespace BitNet.Tokenization.Jinja;

// --- syntax tree: Pos is the offset in the template source, for errors -----------------------------------------

internal abstract record Expr(int Pos);
internal sealed record LiteralExpr(int Pos, object? Value) : Expr(Pos);
internal sealed record NameExpr(int Pos, string Name) : Expr(Pos);
internal sealed record ListExpr(int Pos, List<Expr> Items) : Expr(Pos);
internal sealed record DictExpr(int Pos, List<(Expr Key, Expr Value)> Items) : Expr(Pos);
internal sealed record AttrExpr(int Pos, Expr Target, string Name) : Expr(Pos);
internal sealed record IndexExpr(int Pos, Expr Target, Expr Index) : Expr(Pos);
internal sealed record SliceExpr(int Pos, Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr(Pos);
internal sealed record CallExpr(int Pos, Expr Callee, List<Expr> Args, List<(string Name, Expr Value)> Kwargs) : Expr(Pos);
internal sealed record FilterExpr(int Pos, Expr Target, string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs) : Expr(Pos);
internal sealed record TestExpr(int Pos, Expr Target, string Name, List<Expr> Args, bool Negated) : Expr(Pos);
internal sealed record UnaryExpr(int Pos, string Op, Expr Operand) : Expr(Pos);
internal sealed record BinaryExpr(int Pos, string Op, Expr Left, Expr Right) : Expr(Pos);
internal sealed record CondExpr(int Pos, Expr Condition, Expr Then, Expr? Else) : Expr(Pos);

internal abstract record Node(int Pos);
internal sealed record TextNode(int Pos, string Text) : Node(Pos);
internal sealed record OutputNode(int Pos, Expr Value) : Node(Pos);
internal sealed record IfNode(int Pos, List<(Expr Condition, List<Node> Body)> Branches, List<Node>? Else) : Node(Pos);
internal sealed record ForNode(int Pos, List<string> Targets, Expr Iterable, Expr? Filter, List<Node> Body, List<Node>? Else) : Node(Pos);
/// <summary><c>{% set name = v %}</c>, or <c>{% set name.attr = v %}</c> on a namespace.</summary>
internal sealed record SetNode(int Pos, string Name, string? Attribute, Expr Value) : Node(Pos);
internal sealed record LoopControlNode(int Pos, bool IsBreak) : Node(Pos);
internal sealed record BlockNode(int Pos, List<Node> Body) : Node(Pos);

/// <summary>
/// Parses the segments of <see cref="JinjaLexer"/> into a tree. Statements: <c>if/elif/else/endif</c>,
/// <c>for x in xs [if cond]</c> (also <c>for a, b in ...</c>) with <c>else/endfor</c>, <c>set</c>, <c>break</c>,
/// <c>continue</c>, <c>generation/endgeneration</c> (transformers' marker, rendered as its body). Expressions follow
/// jinja2's precedence: inline <c>if/else</c> &lt; or &lt; and &lt; not &lt; comparisons and <c>in</c> &lt; + - &lt; ~
/// &lt; * / // % &lt; ** &lt; unary minus &lt; filters <c>|</c> and tests <c>is</c> &lt; <c>.attr [i] [a:b] (args)</c>.
/// Anything else (macros, includes, block set, ...) is a <see cref="TemplateException"/> naming it.
/// </summary>
internal sealed class JinjaParser
{
    private const int MaxDepth = 128;
    private readonly string _src;
    private readonly List<Segment> _segments;
    private int _seg;
    private List<Tok> _toks = [];
    private int _t;
    private int _depth;

    private JinjaParser(string src, List<Segment> segments)
    {
        _src = src;
        _segments = segments;
    }

    public static List<Node> Parse(string src)
    {
        var p = new JinjaParser(src, JinjaLexer.Lex(src));
        var body = p.ParseBody([], out var end);
        if (end is not null) throw p.Error(end.Value.Pos, $"'{end.Value.Text}' without a statement it closes");
        return body;
    }

    /// <summary>Parses nodes until a statement tag whose keyword is in <paramref name="stops"/> (left as the
    /// current tag, its keyword consumed and returned) or the end of the template (null).</summary>
    private List<Node> ParseBody(string[] stops, out Tok? stop)
    {
        if (++_depth > MaxDepth) throw Error(_segments[Math.Max(0, _seg - 1)].Pos, $"statements nested deeper than {MaxDepth}");
        var nodes = new List<Node>();
        stop = null;
        while (_seg < _segments.Count)
        {
            var seg = _segments[_seg++];
            if (seg.Kind == SegmentKind.Text)
            {
                nodes.Add(new TextNode(seg.Pos, seg.Text));
                continue;
            }
            _toks = seg.Tokens;
            _t = 0;
            if (seg.Kind == SegmentKind.Output)
            {
                if (Peek.Kind == TokKind.End) throw Error(seg.Pos, "empty expression '{{ }}'");
                var e = ParseExpression();
                ExpectEnd("'}}'");
                nodes.Add(new OutputNode(seg.Pos, e));
                continue;
            }
            var kw = Next();
            if (kw.Kind != TokKind.Name) throw Error(kw.Pos, kw.Kind == TokKind.End ? "empty statement '{% %}'" : $"a statement starts with a keyword, not '{kw.Text}'");
            if (Array.IndexOf(stops, kw.Text) >= 0)
            {
                stop = kw;
                _depth--;
                return nodes;
            }
            nodes.Add(kw.Text switch
            {
                "if" => ParseIf(kw),
                "for" => ParseFor(kw),
                "set" => ParseSet(kw),
                "break" or "continue" => Done(new LoopControlNode(kw.Pos, kw.Text == "break")),
                "generation" => ParseGeneration(kw),
                "elif" or "else" or "endif" or "endfor" or "endgeneration" =>
                    throw Error(kw.Pos, $"'{kw.Text}' without a statement it belongs to"),
                "macro" or "call" or "filter" or "include" or "import" or "from" or "extends" or "block" or "raw" or "with" or "do" or "autoescape" =>
                    throw Error(kw.Pos, $"the statement '{kw.Text}' is not supported by this template interpreter"),
                _ => throw Error(kw.Pos, $"unknown statement '{kw.Text}'"),
            });
        }
        _depth--;
        return nodes;
    }

    private Node Done(Node n)
    {
        ExpectEnd("'%}'");
        return n;
    }

    private Node ParseIf(Tok kw)
    {
        var branches = new List<(Expr, List<Node>)>();
        var cond = ParseExpression();
        ExpectEnd("'%}'");
        while (true)
        {
            var body = ParseBody(["elif", "else", "endif"], out var stop);
            branches.Add((cond, body));
            if (stop is null) throw Error(kw.Pos, "'if' is never closed with 'endif'");
            if (stop.Value.Text == "elif")
            {
                cond = ParseExpression();
                ExpectEnd("'%}'");
                continue;
            }
            if (stop.Value.Text == "endif")
            {
                ExpectEnd("'%}'");
                return new IfNode(kw.Pos, branches, null);
            }
            ExpectEnd("'%}'");
            var elseBody = ParseBody(["endif", "elif", "else"], out var end);
            if (end is null) throw Error(kw.Pos, "'if' is never closed with 'endif'");
            if (end.Value.Text != "endif") throw Error(end.Value.Pos, $"'{end.Value.Text}' after 'else'");
            ExpectEnd("'%}'");
            return new IfNode(kw.Pos, branches, elseBody);
        }
    }

    private Node ParseFor(Tok kw)
    {
        var targets = new List<string> { ExpectName("a loop variable") };
        while (IsOp(","))
        {
            _t++;
            targets.Add(ExpectName("a loop variable"));
        }
        var inTok = Next();
        if (inTok.Kind != TokKind.Name || inTok.Text != "in") throw Error(inTok.Pos, $"expected 'in' in 'for', not '{Show(inTok)}'");
        var iterable = ParseOr(); // not the inline if: "for x in xs if cond" filters
        Expr? filter = null;
        if (IsName("if"))
        {
            _t++;
            filter = ParseOr();
        }
        if (IsName("recursive")) throw Error(Peek.Pos, "recursive loops are not supported");
        ExpectEnd("'%}'");
        var body = ParseBody(["endfor", "else"], out var stop);
        if (stop is null) throw Error(kw.Pos, "'for' is never closed with 'endfor'");
        List<Node>? elseBody = null;
        if (stop.Value.Text == "else")
        {
            ExpectEnd("'%}'");
            elseBody = ParseBody(["endfor"], out stop);
            if (stop is null) throw Error(kw.Pos, "'for' is never closed with 'endfor'");
        }
        ExpectEnd("'%}'");
        return new ForNode(kw.Pos, targets, iterable, filter, body, elseBody);
    }

    private Node ParseSet(Tok kw)
    {
        string name = ExpectName("a variable name");
        string? attr = null;
        if (IsOp("."))
        {
            _t++;
            attr = ExpectName("an attribute name");
        }
        if (IsOp(",")) throw Error(Peek.Pos, "'set' with several targets is not supported");
        if (Peek.Kind == TokKind.End) throw Error(kw.Pos, "block 'set' ({% set x %}...{% endset %}) is not supported");
        var eq = Next();
        if (eq.Kind != TokKind.Op || eq.Text != "=") throw Error(eq.Pos, $"expected '=' in 'set', not '{Show(eq)}'");
        var value = ParseExpression();
        ExpectEnd("'%}'");
        return new SetNode(kw.Pos, name, attr, value);
    }

    private Node ParseGeneration(Tok kw)
    {
        ExpectEnd("'%}'");
        var body = ParseBody(["endgeneration"], out var stop);
        if (stop is null) throw Error(kw.Pos, "'generation' is never closed with 'endgeneration'");
        ExpectEnd("'%}'");
        return new BlockNode(kw.Pos, body);
    }

    // --- expressions ------------------------------------------------------------------------------------------

    private Tok Peek => _toks[_t];
    private Tok Next() => _toks[_t].Kind == TokKind.End ? _toks[_t] : _toks[_t++];
    private bool IsOp(string op) => Peek.Kind == TokKind.Op && Peek.Text == op;
    private bool IsName(string name) => Peek.Kind == TokKind.Name && Peek.Text == name;

    private static string Show(Tok t) => t.Kind == TokKind.End ? "end of tag" : t.Text;

    private void ExpectEnd(string what)
    {
        if (Peek.Kind != TokKind.End) throw Error(Peek.Pos, $"expected {what}, not '{Peek.Text}'");
    }

    private void ExpectOp(string op)
    {
        var t = Next();
        if (t.Kind != TokKind.Op || t.Text != op) throw Error(t.Pos, $"expected '{op}', not '{Show(t)}'");
    }

    private string ExpectName(string what)
    {
        var t = Next();
        if (t.Kind != TokKind.Name) throw Error(t.Pos, $"expected {what}, not '{Show(t)}'");
        return t.Text;
    }

    private Expr ParseExpression()
    {
        if (++_depth > MaxDepth) throw Error(Peek.Pos, $"expression nested deeper than {MaxDepth}");
        var e = ParseOr();
        if (IsName("if"))
        {
            int pos = Next().Pos;
            var cond = ParseOr();
            Expr? otherwise = null;
            if (IsName("else"))
            {
                _t++;
                otherwise = ParseExpression();
            }
            e = new CondExpr(pos, cond, e, otherwise);
        }
        _depth--;
        return e;
    }

    private Expr ParseOr()
    {
        var e = ParseAnd();
        while (IsName("or")) e = new BinaryExpr(Next().Pos, "or", e, ParseAnd());
        return e;
    }

    private Expr ParseAnd()
    {
        var e = ParseNot();
        while (IsName("and")) e = new BinaryExpr(Next().Pos, "and", e, ParseNot());
        return e;
    }

    private Expr ParseNot()
    {
        if (IsName("not")) return new UnaryExpr(Next().Pos, "not", ParseNot());
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        var e = ParseAdd();
        while (true)
        {
            if (Peek.Kind == TokKind.Op && Peek.Text is "==" or "!=" or "<" or ">" or "<=" or ">=")
            {
                var op = Next();
                e = new BinaryExpr(op.Pos, op.Text, e, ParseAdd());
            }
            else if (IsName("in"))
                e = new BinaryExpr(Next().Pos, "in", e, ParseAdd());
            else if (IsName("not") && _toks[_t + 1].Kind == TokKind.Name && _toks[_t + 1].Text == "in")
            {
                int pos = Next().Pos;
                _t++;
                e = new BinaryExpr(pos, "not in", e, ParseAdd());
            }
            else
                return e;
        }
    }

    private Expr ParseAdd()
    {
        var e = ParseConcat();
        while (Peek.Kind == TokKind.Op && Peek.Text is "+" or "-")
        {
            var op = Next();
            e = new BinaryExpr(op.Pos, op.Text, e, ParseConcat());
        }
        return e;
    }

    private Expr ParseConcat()
    {
        var e = ParseMul();
        while (IsOp("~")) e = new BinaryExpr(Next().Pos, "~", e, ParseMul());
        return e;
    }

    private Expr ParseMul()
    {
        var e = ParsePow();
        while (Peek.Kind == TokKind.Op && Peek.Text is "*" or "/" or "//" or "%")
        {
            var op = Next();
            e = new BinaryExpr(op.Pos, op.Text, e, ParsePow());
        }
        return e;
    }

    private Expr ParsePow()
    {
        var e = ParseUnary();
        while (IsOp("**")) e = new BinaryExpr(Next().Pos, "**", e, ParseUnary());
        return e;
    }

    private Expr ParseUnary()
    {
        if (Peek.Kind == TokKind.Op && Peek.Text is "-" or "+")
        {
            var op = Next();
            return ParseFilters(new UnaryExpr(op.Pos, op.Text, ParseUnaryNoFilter()));
        }
        return ParseFilters(ParsePostfix(ParsePrimary()));
    }

    private Expr ParseUnaryNoFilter()
    {
        if (Peek.Kind == TokKind.Op && Peek.Text is "-" or "+")
        {
            var op = Next();
            return new UnaryExpr(op.Pos, op.Text, ParseUnaryNoFilter());
        }
        return ParsePostfix(ParsePrimary());
    }

    private Expr ParseFilters(Expr e)
    {
        while (true)
        {
            if (IsOp("|"))
            {
                int pos = Next().Pos;
                string name = ExpectName("a filter name");
                var (args, kwargs) = IsOp("(") ? ParseArgs() : ([], []);
                e = new FilterExpr(pos, e, name, args, kwargs);
            }
            else if (IsName("is"))
            {
                int pos = Next().Pos;
                bool negated = false;
                if (IsName("not"))
                {
                    _t++;
                    negated = true;
                }
                var nameTok = Next();
                if (nameTok.Kind != TokKind.Name) throw Error(nameTok.Pos, $"expected a test name after 'is', not '{Show(nameTok)}'");
                var args = new List<Expr>();
                if (IsOp("("))
                    args = ParseArgs().Args;
                else if (Peek.Kind is TokKind.String or TokKind.Integer or TokKind.Float
                         || (Peek.Kind == TokKind.Name && Peek.Text is not ("and" or "or" or "else" or "if" or "not" or "in" or "is")))
                    args.Add(ParsePostfix(ParsePrimary())); // "x is divisibleby 3", "x is sameas none"
                e = new TestExpr(pos, e, nameTok.Text, args, negated);
            }
            else
                return e;
        }
    }

    private Expr ParsePostfix(Expr e)
    {
        while (true)
        {
            if (IsOp("."))
            {
                int pos = Next().Pos;
                var t = Next();
                if (t.Kind == TokKind.Integer) e = new IndexExpr(pos, e, new LiteralExpr(t.Pos, t.Value));
                else if (t.Kind == TokKind.Name) e = new AttrExpr(pos, e, t.Text);
                else throw Error(t.Pos, $"expected an attribute name after '.', not '{Show(t)}'");
            }
            else if (IsOp("["))
            {
                int pos = Next().Pos;
                Expr? a = null, b = null, c = null;
                if (!IsOp(":")) a = ParseExpression();
                if (IsOp(":"))
                {
                    _t++;
                    if (!IsOp(":") && !IsOp("]")) b = ParseExpression();
                    if (IsOp(":"))
                    {
                        _t++;
                        if (!IsOp("]")) c = ParseExpression();
                    }
                    ExpectOp("]");
                    e = new SliceExpr(pos, e, a, b, c);
                }
                else
                {
                    ExpectOp("]");
                    e = new IndexExpr(pos, e, a!);
                }
            }
            else if (IsOp("("))
            {
                int pos = Peek.Pos;
                var (args, kwargs) = ParseArgs();
                e = new CallExpr(pos, e, args, kwargs);
            }
            else
                return e;
        }
    }

    private (List<Expr> Args, List<(string, Expr)> Kwargs) ParseArgs()
    {
        ExpectOp("(");
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!IsOp(")"))
        {
            if (Peek.Kind == TokKind.Name && _toks[_t + 1].Kind == TokKind.Op && _toks[_t + 1].Text == "=")
            {
                string name = Next().Text;
                _t++;
                kwargs.Add((name, ParseExpression()));
            }
            else
            {
                if (kwargs.Count > 0) throw Error(Peek.Pos, "a positional argument after a keyword argument");
                args.Add(ParseExpression());
            }
            if (!IsOp(",")) break;
            _t++;
        }
        ExpectOp(")");
        return (args, kwargs);
    }

    private Expr ParsePrimary()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokKind.String:
            {
                // adjacent string literals concatenate, as in Python
                string s = (string)t.Value!;
                while (Peek.Kind == TokKind.String) s += (string)Next().Value!;
                return new LiteralExpr(t.Pos, s);
            }
            case TokKind.Integer:
            case TokKind.Float:
                return new LiteralExpr(t.Pos, t.Value);
            case TokKind.Name:
                return t.Text switch
                {
                    "true" or "True" => new LiteralExpr(t.Pos, true),
                    "false" or "False" => new LiteralExpr(t.Pos, false),
                    "none" or "None" => new LiteralExpr(t.Pos, null),
                    _ => new NameExpr(t.Pos, t.Text),
                };
            case TokKind.Op when t.Text == "(":
            {
                if (IsOp(")"))
                {
                    _t++;
                    return new ListExpr(t.Pos, []);
                }
                var first = ParseExpression();
                if (IsOp(")"))
                {
                    _t++;
                    return first;
                }
                var items = new List<Expr> { first };
                while (IsOp(","))
                {
                    _t++;
                    if (IsOp(")")) break;
                    items.Add(ParseExpression());
                }
                ExpectOp(")");
                return new ListExpr(t.Pos, items); // a tuple
            }
            case TokKind.Op when t.Text == "[":
            {
                var items = new List<Expr>();
                while (!IsOp("]"))
                {
                    items.Add(ParseExpression());
                    if (!IsOp(",")) break;
                    _t++;
                }
                ExpectOp("]");
                return new ListExpr(t.Pos, items);
            }
            case TokKind.Op when t.Text == "{":
            {
                var items = new List<(Expr, Expr)>();
                while (!IsOp("}"))
                {
                    var k = ParseExpression();
                    ExpectOp(":");
                    items.Add((k, ParseExpression()));
                    if (!IsOp(",")) break;
                    _t++;
                }
                ExpectOp("}");
                return new DictExpr(t.Pos, items);
            }
            case TokKind.End:
                throw Error(t.Pos, "the expression ends too soon");
            default:
                throw Error(t.Pos, $"unexpected '{t.Text}' in an expression");
        }
    }

    private TemplateException Error(int pos, string problem) => JinjaLexer.Error(_src, pos, problem);
}
