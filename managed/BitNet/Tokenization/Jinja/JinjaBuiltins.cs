using System.Globalization;
using System.Text;

namespace BitNet.Tokenization.Jinja;

/// <summary>
/// The filters, tests, functions and methods chat templates use, by name. Filters: trim, length/count,
/// default/d, capitalize, upper, lower, title, join, string, tojson (transformers' version: no key sorting, non-ASCII
/// kept, optional indent), items, first, last, list, reverse, replace, int, float, abs, safe. Tests: defined,
/// undefined, none, boolean, true, false, string, number, integer, float, mapping, iterable, sequence, even, odd,
/// divisibleby, eq/equalto/ne, lower, upper. Functions: raise_exception, namespace, range. String methods: strip,
/// lstrip, rstrip, upper, lower, title, capitalize, startswith, endswith, split, replace, join, count; dictionary
/// methods: items, keys, values, get. Anything else is a <see cref="TemplateException"/> naming it.
/// </summary>
internal static class JinjaBuiltins
{
    private const int MaxRange = 1_000_000;

    public static object? Filter(JinjaRenderer r, FilterExpr f, object? v, List<object?> args, List<(string Name, object? Value)> kwargs)
    {
        object? Arg(int i, string name, object? dflt)
        {
            foreach (var (k, val) in kwargs) if (k == name) return val;
            return i < args.Count ? args[i] : dflt;
        }
        string Str(object? x) => x as string ?? throw r.ErrorAt(f.Pos, $"filter '{f.Name}' needs a string, not {JinjaRenderer.TypeName(x)}");
        switch (f.Name)
        {
            case "trim": return Str(v).Trim();
            case "length" or "count":
                return v switch
                {
                    string s => (long)s.Length,
                    IReadOnlyList<object?> l => (long)l.Count,
                    IReadOnlyDictionary<string, object?> d => (long)d.Count,
                    Undefined => 0L,
                    _ => throw r.ErrorAt(f.Pos, $"{JinjaRenderer.TypeName(v)} has no length"),
                };
            case "default" or "d":
            {
                bool boolean = JinjaRenderer.Truthy(Arg(1, "boolean", false));
                bool useDefault = v is Undefined || (boolean && !JinjaRenderer.Truthy(v));
                return useDefault ? Arg(0, "default_value", "") : v;
            }
            case "capitalize":
            {
                string s = Str(v);
                return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
            }
            case "upper": return Str(v).ToUpperInvariant();
            case "lower": return Str(v).ToLowerInvariant();
            case "title": return Title(Str(v));
            case "join":
            {
                string sep = Arg(0, "d", "") as string ?? throw r.ErrorAt(f.Pos, "join's separator must be a string");
                object? attribute = Arg(1, "attribute", null);
                var items = r.Iterate(f.Pos, v).Select(x => attribute is string a ? r.GetAttr(f.Pos, x, a) : x);
                return string.Join(sep, items.Select(JinjaRenderer.ToStr));
            }
            case "string": return JinjaRenderer.ToStr(v);
            case "safe": return v;
            case "tojson":
            {
                object? indent = Arg(0, "indent", null);
                var sb = new StringBuilder();
                WriteJson(r, f.Pos, sb, v, indent is null ? -1 : (int)JinjaRenderer.AsLong(indent), 0);
                return sb.ToString();
            }
            case "items":
                return v switch
                {
                    IReadOnlyDictionary<string, object?> d => d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList(),
                    Undefined => new List<object?>(),
                    _ => throw r.ErrorAt(f.Pos, $"filter 'items' needs a dictionary, not {JinjaRenderer.TypeName(v)}"),
                };
            case "first": return r.Iterate(f.Pos, v).FirstOrDefault(new Undefined("first"));
            case "last": return r.Iterate(f.Pos, v).LastOrDefault(new Undefined("last"));
            case "list": return r.Iterate(f.Pos, v).ToList();
            case "reverse":
                return v is string rs ? new string(rs.Reverse().ToArray()) : r.Iterate(f.Pos, v).Reverse().ToList();
            case "replace":
                return Str(v).Replace(Arg(0, "old", null) as string ?? throw r.ErrorAt(f.Pos, "replace needs two strings"),
                    Arg(1, "new", null) as string ?? throw r.ErrorAt(f.Pos, "replace needs two strings"), StringComparison.Ordinal);
            case "int":
                return v switch
                {
                    long or bool or double => JinjaRenderer.AsLong(v),
                    string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) => l,
                    _ => Arg(0, "default", 0L),
                };
            case "float":
                return v switch
                {
                    long or bool or double => JinjaRenderer.AsDouble(v),
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
                    _ => Arg(0, "default", 0.0),
                };
            case "abs":
                return v switch
                {
                    long l => (object)Math.Abs(l), // object: else both arms would widen to double
                    double d => Math.Abs(d),
                    _ => throw r.ErrorAt(f.Pos, $"filter 'abs' needs a number, not {JinjaRenderer.TypeName(v)}"),
                };
            default:
                throw r.ErrorAt(f.Pos, $"the filter '{f.Name}' is not supported by this template interpreter");
        }
    }

    public static bool Test(JinjaRenderer r, TestExpr t, object? v, List<object?> args)
    {
        object? Arg0() => args.Count > 0 ? args[0] : throw r.ErrorAt(t.Pos, $"the test '{t.Name}' needs an argument");
        return t.Name switch
        {
            "defined" => v is not Undefined,
            "undefined" => v is Undefined,
            "none" => v is null,
            "boolean" => v is bool,
            "true" => v is true,
            "false" => v is false,
            "string" => v is string,
            "number" => v is long or double,
            "integer" => v is long,
            "float" => v is double,
            "mapping" => v is IReadOnlyDictionary<string, object?> or Namespace,
            "iterable" => v is string or IReadOnlyList<object?> or IReadOnlyDictionary<string, object?>,
            "sequence" => v is string or IReadOnlyList<object?> or IReadOnlyDictionary<string, object?>,
            "even" => v is long e ? e % 2 == 0 : throw r.ErrorAt(t.Pos, "the test 'even' needs an integer"),
            "odd" => v is long o ? o % 2 != 0 : throw r.ErrorAt(t.Pos, "the test 'odd' needs an integer"),
            "divisibleby" => v is long n && Arg0() is long m && m != 0 ? n % m == 0 : throw r.ErrorAt(t.Pos, "the test 'divisibleby' needs integers"),
            "eq" or "equalto" or "==" => JinjaRenderer.ValueEquals(v, Arg0()),
            "ne" or "!=" => !JinjaRenderer.ValueEquals(v, Arg0()),
            "lower" => v is string ls && ls == ls.ToLowerInvariant(),
            "upper" => v is string us && us == us.ToUpperInvariant(),
            _ => throw r.ErrorAt(t.Pos, $"the test '{t.Name}' is not supported by this template interpreter"),
        };
    }

    public static object? Function(JinjaRenderer r, int pos, string name, List<object?> args, List<(string Name, object? Value)> kwargs)
    {
        switch (name)
        {
            case "raise_exception":
                throw r.ErrorAt(pos, "the template raised an error: " + (args.Count > 0 ? JinjaRenderer.ToStr(args[0]) : "(no message)"));
            case "namespace":
            {
                var ns = new Namespace();
                if (args.Count > 0 && args[0] is IReadOnlyDictionary<string, object?> init)
                    foreach (var (k, v) in init) ns.Values[k] = v;
                foreach (var (k, v) in kwargs) ns.Values[k] = v;
                return ns;
            }
            case "range":
            {
                if (args.Count is 0 or > 3 || args.Any(a => a is not long)) throw r.ErrorAt(pos, "range() takes 1 to 3 integers");
                long start = args.Count > 1 ? (long)args[0]! : 0, stop = args.Count > 1 ? (long)args[1]! : (long)args[0]!;
                long step = args.Count > 2 ? (long)args[2]! : 1;
                if (step == 0) throw r.ErrorAt(pos, "range() step cannot be zero");
                var list = new List<object?>();
                for (long i = start; step > 0 ? i < stop : i > stop; i += step)
                {
                    if (list.Count >= MaxRange) throw r.ErrorAt(pos, $"range() longer than {MaxRange}");
                    list.Add(i);
                }
                return list;
            }
            default:
                throw r.ErrorAt(pos, $"the function '{name}' is not supported by this template interpreter");
        }
    }

    public static object? Method(JinjaRenderer r, int pos, object? target, string name, List<object?> args, List<(string Name, object? Value)> kwargs)
    {
        if (kwargs.Count > 0) throw r.ErrorAt(pos, $"keyword arguments to '.{name}()' are not supported");
        object? A(int i) => i < args.Count ? args[i] : null;
        string S(int i) => A(i) as string ?? throw r.ErrorAt(pos, $"'.{name}()' needs a string argument");
        if (target is string s)
        {
            return name switch
            {
                "strip" => A(0) is string cs ? s.Trim(cs.ToCharArray()) : s.Trim(),
                "lstrip" => A(0) is string ls ? s.TrimStart(ls.ToCharArray()) : s.TrimStart(),
                "rstrip" => A(0) is string rs ? s.TrimEnd(rs.ToCharArray()) : s.TrimEnd(),
                "upper" => s.ToUpperInvariant(),
                "lower" => s.ToLowerInvariant(),
                "title" => Title(s),
                "capitalize" => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant(),
                "startswith" => s.StartsWith(S(0), StringComparison.Ordinal),
                "endswith" => s.EndsWith(S(0), StringComparison.Ordinal),
                "replace" => s.Replace(S(0), S(1), StringComparison.Ordinal),
                "count" => (long)CountOf(s, S(0)),
                "split" => Split(s, A(0) as string, A(1) is long max ? max : -1),
                "join" => string.Join(s, r.Iterate(pos, A(0)).Select(JinjaRenderer.ToStr)),
                _ => throw r.ErrorAt(pos, $"the string method '.{name}()' is not supported by this template interpreter"),
            };
        }
        if (target is IReadOnlyDictionary<string, object?> d)
        {
            return name switch
            {
                "items" => d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList(),
                "keys" => d.Keys.Select(k => (object?)k).ToList(),
                "values" => d.Values.ToList(),
                "get" => A(0) is string k && d.TryGetValue(k, out var v) ? v : A(1),
                _ => throw r.ErrorAt(pos, $"the dictionary method '.{name}()' is not supported by this template interpreter"),
            };
        }
        if (target is Undefined u) throw r.ErrorAt(pos, $"'{u.Name}' is undefined, so it has no method '{name}'");
        throw r.ErrorAt(pos, $"{JinjaRenderer.TypeName(target)} has no method '.{name}()' this template interpreter supports");
    }

    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool start = true;
        foreach (char c in s)
        {
            sb.Append(start ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            start = !char.IsLetterOrDigit(c);
        }
        return sb.ToString();
    }

    private static int CountOf(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        int n = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    // Python's str.split: no separator splits on runs of whitespace and drops empty pieces
    private static List<object?> Split(string s, string? sep, long max)
    {
        if (sep is null)
        {
            var parts = s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (max < 0 || parts.Length <= max + 1) return parts.Select(p => (object?)p).ToList();
            var head = parts.Take((int)max).Select(p => (object?)p).ToList();
            int idx = 0;
            for (int k = 0; k < max; k++)
            {
                idx = s.IndexOf(parts[k], idx, StringComparison.Ordinal) + parts[k].Length;
            }
            head.Add(s[idx..].TrimStart());
            return head;
        }
        return (max < 0 ? s.Split(sep) : s.Split(sep, (int)Math.Min(max + 1, int.MaxValue))).Select(p => (object?)p).ToList();
    }

    // json.dumps(v, ensure_ascii=False, indent=indent), as transformers' tojson filter calls it
    private static void WriteJson(JinjaRenderer r, int pos, StringBuilder sb, object? v, int indent, int level)
    {
        void NewLine(int lvl)
        {
            if (indent < 0) return;
            sb.Append('\n').Append(' ', indent * lvl);
        }
        string itemSep = indent < 0 ? ", " : ",";
        switch (v)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(double.IsFinite(d) ? JinjaRenderer.FormatDouble(d) : d > 0 ? "Infinity" : d < 0 ? "-Infinity" : "NaN"); break;
            case string s: JsonString(sb, s); break;
            case IReadOnlyList<object?> list:
                if (list.Count == 0) { sb.Append("[]"); break; }
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(itemSep);
                    NewLine(level + 1);
                    WriteJson(r, pos, sb, list[i], indent, level + 1);
                }
                NewLine(level);
                sb.Append(']');
                break;
            case IReadOnlyDictionary<string, object?> dict:
                if (dict.Count == 0) { sb.Append("{}"); break; }
                sb.Append('{');
                bool first = true;
                foreach (var (k, item) in dict)
                {
                    if (!first) sb.Append(itemSep);
                    first = false;
                    NewLine(level + 1);
                    JsonString(sb, k);
                    sb.Append(": ");
                    WriteJson(r, pos, sb, item, indent, level + 1);
                }
                NewLine(level);
                sb.Append('}');
                break;
            default:
                throw r.ErrorAt(pos, $"tojson cannot write {JinjaRenderer.TypeName(v)}");
        }
    }

    private static void JsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
