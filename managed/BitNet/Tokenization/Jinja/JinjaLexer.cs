using System.Globalization;
using System.Text;

namespace BitNet.Tokenization.Jinja;

internal enum TokKind { Name, String, Integer, Float, Op, End }

/// <summary>One token of an expression or statement; <see cref="Pos"/> is its offset in the template source.</summary>
internal readonly record struct Tok(TokKind Kind, string Text, int Pos, object? Value = null);

internal enum SegmentKind { Text, Output, Statement }

/// <summary>A piece of the template: literal text, or the tokens of one <c>{{ }}</c> / <c>{% %}</c> tag.</summary>
internal sealed class Segment(SegmentKind kind, int pos)
{
    public SegmentKind Kind { get; } = kind;
    public int Pos { get; } = pos;
    public string Text { get; set; } = "";
    public List<Tok> Tokens { get; } = [];
}

/// <summary>
/// Cuts a template into text and tags with Jinja's whitespace rules as transformers applies them
/// (<c>trim_blocks=True, lstrip_blocks=True</c>, jinja2's default <c>keep_trailing_newline=False</c>):
/// <c>{%-</c> / <c>-%}</c> strip all whitespace on that side, <c>{% %}</c> and <c>{# #}</c> eat the newline right
/// after them and the spaces before them on their line (not <c>{{ }}</c>; <c>{%+</c> keeps the spaces), and one
/// newline at the end of the template is dropped. Comments vanish.
/// </summary>
internal static class JinjaLexer
{
    public static List<Segment> Lex(string src)
    {
        if (src.EndsWith('\n')) src = src[..^1];
        var raw = new List<(Segment Seg, bool StripBefore, bool StripAfter, bool KeepBefore, bool IsBlock)>();
        int pos = 0;
        while (pos < src.Length)
        {
            int open = FindOpen(src, pos);
            if (open < 0)
            {
                raw.Add((new Segment(SegmentKind.Text, pos) { Text = src[pos..] }, false, false, false, false));
                break;
            }
            if (open > pos) raw.Add((new Segment(SegmentKind.Text, pos) { Text = src[pos..open] }, false, false, false, false));
            char kind = src[open + 1];
            int p = open + 2;
            bool stripBefore = p < src.Length && src[p] == '-';
            bool keepBefore = p < src.Length && src[p] == '+';
            if (stripBefore || keepBefore) p++;
            if (kind == '#')
            {
                int close = src.IndexOf("#}", p, StringComparison.Ordinal);
                if (close < 0) throw Error(src, open, "comment '{#' is never closed with '#}'");
                bool stripAfter = close > p && src[close - 1] == '-';
                // a comment is a block for the whitespace rules, and renders nothing
                raw.Add((new Segment(SegmentKind.Statement, open), stripBefore, stripAfter, keepBefore, true));
                pos = close + 2;
                continue;
            }
            var seg = new Segment(kind == '{' ? SegmentKind.Output : SegmentKind.Statement, open);
            bool after = LexTag(src, ref p, kind == '{' ? '}' : '%', seg.Tokens, open);
            raw.Add((seg, stripBefore, after, keepBefore, kind == '%'));
            pos = p;
        }

        // whitespace control
        var result = new List<Segment>();
        bool lineStarting = true; // the text before the next tag starts a line (start of template, or a trimmed newline)
        for (int i = 0; i < raw.Count; i++)
        {
            var (seg, stripBefore, stripAfter, keepBefore, isBlock) = raw[i];
            if (seg.Kind == SegmentKind.Text)
            {
                var next = i + 1 < raw.Count ? raw[i + 1] : default;
                string text = seg.Text;
                if (next.Seg is not null)
                {
                    if (next.StripBefore)
                        text = text.TrimEnd();
                    else if (next.IsBlock && !next.KeepBefore)
                    {
                        int nl = text.LastIndexOf('\n');
                        if ((nl >= 0 || lineStarting) && text.AsSpan(nl + 1).IndexOfAnyExcept(' ', '\t') < 0)
                            text = text[..(nl + 1)];
                    }
                }
                seg.Text = text;
                lineStarting = false;
                if (text.Length > 0) result.Add(seg);
                continue;
            }
            lineStarting = false;
            if (i + 1 < raw.Count && raw[i + 1].Seg.Kind == SegmentKind.Text)
            {
                var nextText = raw[i + 1].Seg;
                if (stripAfter)
                    nextText.Text = nextText.Text.TrimStart();
                else if (isBlock && !EndsWithPlus(seg, src) && nextText.Text.StartsWith('\n'))
                {
                    nextText.Text = nextText.Text[1..];
                    lineStarting = true;
                }
            }
            if (seg.Tokens.Count > 0 || seg.Kind == SegmentKind.Output) result.Add(seg);
        }
        return result;
    }

    // "{%+ x +%}": a '+' before the closing delimiter keeps the newline after the tag
    private static bool EndsWithPlus(Segment seg, string src) =>
        seg.Tokens.Count > 0 && seg.Tokens[^1].Kind == TokKind.End && seg.Tokens[^1].Text == "+";

    private static int FindOpen(string src, int from)
    {
        for (int i = src.IndexOf('{', from); i >= 0 && i + 1 < src.Length; i = src.IndexOf('{', i + 1))
            if (src[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    /// <summary>Tokenizes a tag's content up to its closing delimiter (<c>}}</c> or <c>%}</c>, with an optional
    /// <c>-</c> or <c>+</c> before it) at bracket depth 0; returns whether it was <c>-</c> (strip after).</summary>
    private static bool LexTag(string src, ref int p, char closer, List<Tok> toks, int open)
    {
        int depth = 0;
        while (true)
        {
            while (p < src.Length && char.IsWhiteSpace(src[p])) p++;
            if (p >= src.Length)
                throw Error(src, open, closer == '}' ? "'{{' is never closed with '}}'" : "'{%' is never closed with '%}'");
            char c = src[p];
            // closing delimiter, possibly with '-' or '+' in front
            if (depth == 0)
            {
                if (c == closer && p + 1 < src.Length && src[p + 1] == '}')
                {
                    toks.Add(new Tok(TokKind.End, "", p));
                    p += 2;
                    return false;
                }
                if ((c == '-' || c == '+') && p + 2 < src.Length && src[p + 1] == closer && src[p + 2] == '}')
                {
                    toks.Add(new Tok(TokKind.End, c.ToString(), p));
                    p += 3;
                    return c == '-';
                }
            }
            int start = p;
            if (char.IsLetter(c) || c == '_')
            {
                while (p < src.Length && (char.IsLetterOrDigit(src[p]) || src[p] == '_')) p++;
                toks.Add(new Tok(TokKind.Name, src[start..p], start));
            }
            else if (char.IsAsciiDigit(c))
            {
                while (p < src.Length && (char.IsAsciiDigit(src[p]) || src[p] == '_')) p++;
                bool isFloat = false;
                if (p + 1 < src.Length && src[p] == '.' && char.IsAsciiDigit(src[p + 1]))
                {
                    isFloat = true;
                    p++;
                    while (p < src.Length && char.IsAsciiDigit(src[p])) p++;
                }
                string text = src[start..p].Replace("_", "");
                if (isFloat)
                    toks.Add(new Tok(TokKind.Float, text, start, double.Parse(text, CultureInfo.InvariantCulture)));
                else if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v))
                    toks.Add(new Tok(TokKind.Integer, text, start, v));
                else
                    throw Error(src, start, $"integer literal {text} is too large");
            }
            else if (c is '\'' or '"')
            {
                var sb = new StringBuilder();
                p++;
                while (true)
                {
                    if (p >= src.Length) throw Error(src, start, "string literal is never closed");
                    char d = src[p++];
                    if (d == c) break;
                    if (d != '\\')
                    {
                        sb.Append(d);
                        continue;
                    }
                    if (p >= src.Length) throw Error(src, start, "string literal is never closed");
                    char e = src[p++];
                    switch (e)
                    {
                        case 'n': sb.Append('\n'); break;
                        case 't': sb.Append('\t'); break;
                        case 'r': sb.Append('\r'); break;
                        case '\\': sb.Append('\\'); break;
                        case '\'': sb.Append('\''); break;
                        case '"': sb.Append('"'); break;
                        case '\n': break;
                        case 'u' when p + 4 <= src.Length && int.TryParse(src.AsSpan(p, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int u):
                            sb.Append((char)u);
                            p += 4;
                            break;
                        default: sb.Append('\\').Append(e); break; // Python keeps unknown escapes as written
                    }
                }
                toks.Add(new Tok(TokKind.String, src[start..p], start, sb.ToString()));
            }
            else
            {
                string op = MatchOp(src, p) ?? throw Error(src, p, $"unexpected character '{c}'");
                if (op is "(" or "[" or "{") depth++;
                else if (op is ")" or "]" or "}") depth--;
                p += op.Length;
                toks.Add(new Tok(TokKind.Op, op, start));
            }
        }
    }

    private static readonly string[] s_ops =
        ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ".", ",", ":", "|"];

    private static string? MatchOp(string src, int p)
    {
        foreach (var op in s_ops)
            if (string.CompareOrdinal(src, p, op, 0, op.Length) == 0) return op;
        return null;
    }

    public static TemplateException Error(string src, int pos, string problem)
    {
        var (line, col) = LineColumn(src, pos);
        return new TemplateException(problem, line, col);
    }

    public static (int Line, int Column) LineColumn(string src, int pos)
    {
        pos = Math.Clamp(pos, 0, src.Length);
        int line = 1, lineStart = 0;
        for (int i = 0; i < pos; i++)
            if (src[i] == '\n') { line++; lineStart = i + 1; }
        return (line, pos - lineStart + 1);
    }
}
