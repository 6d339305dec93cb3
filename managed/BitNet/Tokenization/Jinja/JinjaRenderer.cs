using System.Globalization;
using System.Text;

namespace BitNet.Tokenization.Jinja;

/// <summary>A name or attribute that does not exist: prints as nothing, is false, iterates as empty, and is an
/// error to look into (jinja2's default <c>Undefined</c>).</summary>
internal sealed class Undefined(string name)
{
    public string Name { get; } = name;
}

/// <summary>The object of <c>namespace(...)</c>: the one value whose attributes <c>set</c> may change, so a loop
/// can carry state out (jinja2 scoping keeps plain <c>set</c> inside the loop).</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Values { get; } = new(StringComparer.Ordinal);
}

/// <summary>Evaluates a parsed template. Python semantics where templates rely on them: truthiness, <c>==</c>
/// across int/float/bool, negative indexes and slices, <c>str()</c> of values when printed.</summary>
internal sealed class JinjaRenderer
{
    private const int MaxOutputChars = 1 << 24;
    private const long MaxSteps = 10_000_000;
    private const int MaxDepth = 256;

    private readonly string _src;
    private readonly StringBuilder _out = new();
    private readonly List<Dictionary<string, object?>> _scopes = [];
    private long _steps;
    private int _depth;

    private sealed class LoopControl(bool isBreak) : Exception
    {
        public bool IsBreak { get; } = isBreak;
    }

    public JinjaRenderer(string src, IReadOnlyDictionary<string, object?> globals)
    {
        _src = src;
        var top = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in globals) top[k] = v;
        _scopes.Add(top);
    }

    public string Render(List<Node> body)
    {
        try
        {
            Exec(body);
        }
        catch (LoopControl)
        {
            // only possible outside a loop: jinja2 refuses it at compile time
            throw new TemplateException("'break' or 'continue' outside a loop", 1, 1);
        }
        return _out.ToString();
    }

    private TemplateException Error(int pos, string problem) => JinjaLexer.Error(_src, pos, problem);

    private void Step(int pos)
    {
        if (++_steps > MaxSteps) throw Error(pos, $"the template ran more than {MaxSteps} steps");
    }

    // --- statements -------------------------------------------------------------------------------------------

    private void Exec(List<Node> nodes)
    {
        foreach (var node in nodes)
        {
            Step(node.Pos);
            switch (node)
            {
                case TextNode t:
                    Write(t.Pos, t.Text);
                    break;
                case OutputNode o:
                    Write(o.Pos, ToStr(Eval(o.Value)));
                    break;
                case IfNode i:
                {
                    bool done = false;
                    foreach (var (cond, body) in i.Branches)
                    {
                        if (!Truthy(Eval(cond))) continue;
                        Exec(body);
                        done = true;
                        break;
                    }
                    if (!done && i.Else is not null) Exec(i.Else);
                    break;
                }
                case ForNode f:
                    ExecFor(f);
                    break;
                case SetNode s:
                {
                    object? v = Eval(s.Value);
                    if (s.Attribute is null)
                        _scopes[^1][s.Name] = v;
                    else if (Lookup(s.Name) is Namespace ns)
                        ns.Values[s.Attribute] = v;
                    else
                        throw Error(s.Pos, $"'set {s.Name}.{s.Attribute}': '{s.Name}' is not a namespace()");
                    break;
                }
                case LoopControlNode c:
                    throw new LoopControl(c.IsBreak);
                case BlockNode b:
                    Exec(b.Body);
                    break;
                default:
                    throw Error(node.Pos, $"unknown node {node.GetType().Name}");
            }
        }
    }

    private void Write(int pos, string s)
    {
        if (_out.Length + s.Length > MaxOutputChars) throw Error(pos, $"the output is longer than {MaxOutputChars} characters");
        _out.Append(s);
    }

    private void ExecFor(ForNode f)
    {
        var items = new List<object?>();
        foreach (var item in Iterate(f.Iterable.Pos, Eval(f.Iterable))) items.Add(item);
        if (++_depth > MaxDepth) throw Error(f.Pos, $"loops nested deeper than {MaxDepth}");
        var scope = new Dictionary<string, object?>(StringComparer.Ordinal);
        _scopes.Add(scope);
        try
        {
            if (f.Filter is not null)
            {
                var kept = new List<object?>();
                foreach (var item in items)
                {
                    Bind(f, scope, item);
                    if (Truthy(Eval(f.Filter))) kept.Add(item);
                }
                items = kept;
            }
            for (int i = 0; i < items.Count; i++)
            {
                Bind(f, scope, items[i]);
                scope["loop"] = new Dictionary<string, object?>(StringComparer.Ordinal)
                {
                    ["index0"] = (long)i, ["index"] = (long)(i + 1), ["first"] = i == 0, ["last"] = i == items.Count - 1,
                    ["length"] = (long)items.Count, ["revindex0"] = (long)(items.Count - 1 - i), ["revindex"] = (long)(items.Count - i),
                    ["previtem"] = i > 0 ? items[i - 1] : new Undefined("loop.previtem"),
                    ["nextitem"] = i + 1 < items.Count ? items[i + 1] : new Undefined("loop.nextitem"),
                };
                try
                {
                    Exec(f.Body);
                }
                catch (LoopControl c)
                {
                    if (c.IsBreak) break;
                }
            }
        }
        finally
        {
            _scopes.RemoveAt(_scopes.Count - 1);
            _depth--;
        }
        if (items.Count == 0 && f.Else is not null) Exec(f.Else);
    }

    private void Bind(ForNode f, Dictionary<string, object?> scope, object? item)
    {
        if (f.Targets.Count == 1)
        {
            scope[f.Targets[0]] = item;
            return;
        }
        if (item is not IReadOnlyList<object?> parts || parts.Count != f.Targets.Count)
            throw Error(f.Pos, $"cannot unpack {TypeName(item)} into {f.Targets.Count} loop variables");
        for (int k = 0; k < parts.Count; k++) scope[f.Targets[k]] = parts[k];
    }

    private object? Lookup(string name)
    {
        for (int i = _scopes.Count - 1; i >= 0; i--)
            if (_scopes[i].TryGetValue(name, out var v)) return v;
        return new Undefined(name);
    }

    // --- expressions ------------------------------------------------------------------------------------------

    private object? Eval(Expr e)
    {
        Step(e.Pos);
        if (++_depth > MaxDepth) throw Error(e.Pos, $"expressions nested deeper than {MaxDepth}");
        try
        {
            return EvalCore(e);
        }
        finally
        {
            _depth--;
        }
    }

    private object? EvalCore(Expr e)
    {
        switch (e)
        {
            case LiteralExpr l:
                return l.Value;
            case NameExpr n:
                return Lookup(n.Name);
            case ListExpr l:
                return l.Items.Select(Eval).ToList();
            case DictExpr d:
            {
                var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (k, v) in d.Items)
                    dict[Eval(k) as string ?? throw Error(k.Pos, "dictionary keys must be strings")] = Eval(v);
                return dict;
            }
            case AttrExpr a:
                return GetAttr(a.Pos, Eval(a.Target), a.Name);
            case IndexExpr i:
                return GetItem(i.Pos, Eval(i.Target), Eval(i.Index));
            case SliceExpr s:
                return Slice(s);
            case CallExpr c:
                return Call(c);
            case FilterExpr f:
                return JinjaBuiltins.Filter(this, f, Eval(f.Target), f.Args.Select(Eval).ToList(),
                    f.Kwargs.Select(k => (k.Name, Eval(k.Value))).ToList());
            case TestExpr t:
            {
                bool r = JinjaBuiltins.Test(this, t, Eval(t.Target), t.Args.Select(Eval).ToList());
                return t.Negated ? !r : r;
            }
            case UnaryExpr u:
            {
                object? v = Eval(u.Operand);
                return u.Op switch
                {
                    "not" => !Truthy(v),
                    "-" => v switch
                    {
                        long x => (object)(-x), // object: else every arm would widen to double
                        double x => -x,
                        bool x => x ? -1L : 0L,
                        _ => throw Error(u.Pos, $"cannot negate {TypeName(v)}"),
                    },
                    _ => v is long or double or bool ? v : throw Error(u.Pos, $"unary '+' on {TypeName(v)}"),
                };
            }
            case BinaryExpr b:
                return Binary(b);
            case CondExpr c:
                return Truthy(Eval(c.Condition)) ? Eval(c.Then) : c.Else is null ? new Undefined("if-expression") : Eval(c.Else);
            default:
                throw Error(e.Pos, $"unknown expression {e.GetType().Name}");
        }
    }

    public object? GetAttr(int pos, object? target, string name)
    {
        switch (target)
        {
            case Undefined u:
                throw Error(pos, $"'{u.Name}' is undefined, so it has no attribute '{name}'");
            case null:
                throw Error(pos, $"none has no attribute '{name}'");
            case Namespace ns:
                return ns.Values.TryGetValue(name, out var nv) ? nv : new Undefined(name);
            case IReadOnlyDictionary<string, object?> d:
                return d.TryGetValue(name, out var v) ? v : new Undefined(name);
            default:
                return new Undefined(name); // methods are resolved by Call; other attributes do not exist
        }
    }

    public object? GetItem(int pos, object? target, object? index)
    {
        switch (target)
        {
            case Undefined u:
                throw Error(pos, $"'{u.Name}' is undefined, so it cannot be indexed");
            case null:
                throw Error(pos, "none cannot be indexed");
            case IReadOnlyDictionary<string, object?> d:
                return index is string k && d.TryGetValue(k, out var v) ? v : new Undefined(index is string s ? s : "item");
            case Namespace ns:
                return index is string nk && ns.Values.TryGetValue(nk, out var nv) ? nv : new Undefined("item");
            case IReadOnlyList<object?> list:
            {
                if (index is not (long or bool)) throw Error(pos, $"list indices must be integers, not {TypeName(index)}");
                long i = AsLong(index);
                if (i < 0) i += list.Count;
                return i >= 0 && i < list.Count ? list[(int)i] : new Undefined("item");
            }
            case string str:
            {
                if (index is not (long or bool)) throw Error(pos, $"string indices must be integers, not {TypeName(index)}");
                long i = AsLong(index);
                if (i < 0) i += str.Length;
                return i >= 0 && i < str.Length ? str[(int)i].ToString() : new Undefined("item");
            }
            default:
                throw Error(pos, $"{TypeName(target)} cannot be indexed");
        }
    }

    private object? Slice(SliceExpr s)
    {
        object? target = Eval(s.Target);
        long? Opt(Expr? x)
        {
            if (x is null) return null;
            object? v = Eval(x);
            return v is null ? null : v is long or bool ? AsLong(v) : throw Error(x.Pos, $"slice indices must be integers, not {TypeName(v)}");
        }
        long? start = Opt(s.Start), stop = Opt(s.Stop), step = Opt(s.Step);
        int count = target switch
        {
            IReadOnlyList<object?> l => l.Count,
            string str => str.Length,
            _ => throw Error(s.Pos, $"{TypeName(target)} cannot be sliced"),
        };
        long st = step ?? 1;
        if (st == 0) throw Error(s.Pos, "slice step cannot be zero");
        // Python's slice.indices
        long Clamp(long? v, long dflt, long lo, long hi)
        {
            if (v is not long x) return dflt;
            if (x < 0) x += count;
            return Math.Clamp(x, lo, hi);
        }
        long a = st > 0 ? Clamp(start, 0, 0, count) : Clamp(start, count - 1, -1, count - 1);
        long b = st > 0 ? Clamp(stop, count, 0, count) : Clamp(stop, -1, -1, count - 1);
        var idx = new List<int>();
        for (long i = a; st > 0 ? i < b : i > b; i += st) idx.Add((int)i);
        if (target is string text) return string.Concat(idx.Select(i => text[i]));
        var list = (IReadOnlyList<object?>)target!;
        return idx.Select(i => list[i]).ToList();
    }

    private object? Call(CallExpr c)
    {
        var args = c.Args.Select(Eval).ToList();
        var kwargs = c.Kwargs.Select(k => (k.Name, Eval(k.Value))).ToList();
        if (c.Callee is AttrExpr m)
            return JinjaBuiltins.Method(this, m.Pos, Eval(m.Target), m.Name, args, kwargs);
        if (c.Callee is NameExpr n)
        {
            object? bound = Lookup(n.Name);
            if (bound is not Undefined) throw Error(c.Pos, $"'{n.Name}' is {TypeName(bound)}, which cannot be called");
            return JinjaBuiltins.Function(this, c.Pos, n.Name, args, kwargs);
        }
        throw Error(c.Pos, "only functions and methods by name can be called");
    }

    private object? Binary(BinaryExpr b)
    {
        if (b.Op == "and")
        {
            object? l = Eval(b.Left);
            return Truthy(l) ? Eval(b.Right) : l;
        }
        if (b.Op == "or")
        {
            object? l = Eval(b.Left);
            return Truthy(l) ? l : Eval(b.Right);
        }
        object? x = Eval(b.Left), y = Eval(b.Right);
        switch (b.Op)
        {
            case "==": return ValueEquals(x, y);
            case "!=": return !ValueEquals(x, y);
            case "<" or ">" or "<=" or ">=":
            {
                int cmp = Compare(b.Pos, x, y);
                return b.Op switch { "<" => cmp < 0, ">" => cmp > 0, "<=" => cmp <= 0, _ => cmp >= 0 };
            }
            case "in": return Contains(b.Pos, y, x);
            case "not in": return !Contains(b.Pos, y, x);
            case "~": return ToStr(x) + ToStr(y);
            case "+":
                if (x is string sx && y is string sy) return sx + sy;
                if (x is IReadOnlyList<object?> lx && y is IReadOnlyList<object?> ly) return lx.Concat(ly).ToList();
                return Arith(b, x, y);
            case "*":
                if (x is string rs && y is long or bool) return Repeat(b.Pos, rs, AsLong(y));
                if (y is string rs2 && x is long or bool) return Repeat(b.Pos, rs2, AsLong(x));
                return Arith(b, x, y);
            default:
                return Arith(b, x, y);
        }
    }

    private string Repeat(int pos, string s, long n)
    {
        if (n <= 0) return "";
        if (s.Length * n > MaxOutputChars) throw Error(pos, $"a string longer than {MaxOutputChars} characters");
        return new StringBuilder(s.Length * (int)n).Insert(0, s, (int)n).ToString();
    }

    private object? Arith(BinaryExpr b, object? x, object? y)
    {
        if (x is not (long or double or bool) || y is not (long or double or bool))
            throw Error(b.Pos, $"unsupported operand types for {b.Op}: {TypeName(x)} and {TypeName(y)}");
        if (x is double || y is double || b.Op == "/")
        {
            double p = AsDouble(x), q = AsDouble(y);
            return b.Op switch
            {
                "+" => p + q,
                "-" => p - q,
                "*" => p * q,
                "/" => q == 0 ? throw Error(b.Pos, "division by zero") : p / q,
                "//" => q == 0 ? throw Error(b.Pos, "division by zero") : Math.Floor(p / q),
                "%" => q == 0 ? throw Error(b.Pos, "modulo by zero") : p - q * Math.Floor(p / q),
                "**" => Math.Pow(p, q),
                _ => throw Error(b.Pos, $"unknown operator {b.Op}"),
            };
        }
        long m = AsLong(x), n = AsLong(y);
        checked
        {
            try
            {
                return b.Op switch
                {
                    "+" => m + n,
                    "-" => m - n,
                    "*" => m * n,
                    "//" => n == 0 ? throw Error(b.Pos, "division by zero") : FloorDiv(m, n),
                    "%" => n == 0 ? throw Error(b.Pos, "modulo by zero") : m - n * FloorDiv(m, n),
                    "**" => n < 0 ? (object)Math.Pow(m, n) : IntPow(m, n), // object: else every arm would widen to double
                    _ => throw Error(b.Pos, $"unknown operator {b.Op}"),
                };
            }
            catch (OverflowException)
            {
                throw Error(b.Pos, "integer overflow");
            }
        }
    }

    private static long FloorDiv(long m, long n)
    {
        long q = m / n;
        return (m % n != 0 && (m < 0) != (n < 0)) ? q - 1 : q;
    }

    private static long IntPow(long m, long n)
    {
        long r = 1;
        for (long i = 0; i < n; i++) r = checked(r * m);
        return r;
    }

    private bool Contains(int pos, object? container, object? item) => container switch
    {
        string s => item is string sub ? s.Contains(sub, StringComparison.Ordinal) : throw Error(pos, $"'in <string>' needs a string, not {TypeName(item)}"),
        IReadOnlyDictionary<string, object?> d => item is string k && d.ContainsKey(k),
        Namespace ns => item is string nk && ns.Values.ContainsKey(nk),
        IReadOnlyList<object?> l => l.Any(v => ValueEquals(v, item)),
        Undefined u => throw Error(pos, $"'{u.Name}' is undefined, so 'in' cannot look into it"),
        _ => throw Error(pos, $"'in' cannot look into {TypeName(container)}"),
    };

    private int Compare(int pos, object? x, object? y)
    {
        if (x is (long or double or bool) && y is (long or double or bool)) return AsDouble(x).CompareTo(AsDouble(y));
        if (x is string a && y is string b) return string.CompareOrdinal(a, b);
        throw Error(pos, $"cannot order {TypeName(x)} and {TypeName(y)}");
    }

    // --- Python value semantics -------------------------------------------------------------------------------

    public IEnumerable<object?> Iterate(int pos, object? v) => v switch
    {
        Undefined => [],
        string s => s.Select(c => (object?)c.ToString()).ToList(),
        IReadOnlyDictionary<string, object?> d => d.Keys.Select(k => (object?)k).ToList(),
        IReadOnlyList<object?> l => l,
        _ => throw Error(pos, $"{TypeName(v)} is not iterable"),
    };

    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        IReadOnlyList<object?> l => l.Count > 0,
        IReadOnlyDictionary<string, object?> d => d.Count > 0,
        _ => true,
    };

    public static bool ValueEquals(object? x, object? y)
    {
        if (x is (long or double or bool) && y is (long or double or bool)) return AsDouble(x) == AsDouble(y);
        return (x, y) switch
        {
            (null, null) => true,
            (Undefined, Undefined) => true,
            (string a, string b) => a == b,
            (IReadOnlyList<object?> a, IReadOnlyList<object?> b) => a.Count == b.Count && a.Zip(b).All(p => ValueEquals(p.First, p.Second)),
            (IReadOnlyDictionary<string, object?> a, IReadOnlyDictionary<string, object?> b) =>
                a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var bv) && ValueEquals(kv.Value, bv)),
            _ => ReferenceEquals(x, y),
        };
    }

    public static long AsLong(object? v) => v switch { long l => l, bool b => b ? 1 : 0, double d => (long)d, _ => 0 };

    public static double AsDouble(object? v) => v switch { long l => l, bool b => b ? 1 : 0, double d => d, _ => 0 };

    /// <summary>Python's <c>str()</c>: what <c>{{ v }}</c> prints.</summary>
    public static string ToStr(object? v) => v switch
    {
        Undefined => "",
        string s => s,
        _ => Repr(v),
    };

    /// <summary>Python's <c>repr()</c>, for values inside printed lists and dictionaries.</summary>
    public static string Repr(object? v) => v switch
    {
        null => "None",
        Undefined => "",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatDouble(d),
        string s => "'" + s.Replace("\\", "\\\\").Replace("'", "\\'").Replace("\n", "\\n") + "'",
        IReadOnlyList<object?> l => "[" + string.Join(", ", l.Select(Repr)) + "]",
        IReadOnlyDictionary<string, object?> d => "{" + string.Join(", ", d.Select(kv => Repr(kv.Key) + ": " + Repr(kv.Value))) + "}",
        Namespace => "<Namespace>",
        _ => v.ToString() ?? "",
    };

    public static string FormatDouble(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        return r.Contains('.') || r.Contains('E') ? r : r + ".0";
    }

    public static string TypeName(object? v) => v switch
    {
        null => "none",
        Undefined u => $"undefined '{u.Name}'",
        bool => "a boolean",
        long => "an integer",
        double => "a float",
        string => "a string",
        IReadOnlyList<object?> => "a list",
        IReadOnlyDictionary<string, object?> => "a dictionary",
        Namespace => "a namespace",
        _ => $"a {v.GetType().Name}",
    };

    public TemplateException ErrorAt(int pos, string problem) => Error(pos, problem);
}
