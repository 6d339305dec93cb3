using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace BitNet.Tokenization;

/// <summary>How a split pre-tokenizer treats its matches (HF tokenizers <c>SplitDelimiterBehavior</c>).</summary>
internal enum SplitBehavior
{
    /// <summary>Matches are dropped.</summary>
    Removed,
    /// <summary>Matches and the text between them are each a piece.</summary>
    Isolated,
    /// <summary>A match joins the piece before it.</summary>
    MergedWithPrevious,
    /// <summary>A match joins the piece after it.</summary>
    MergedWithNext,
    /// <summary>Consecutive matches form one piece.</summary>
    Contiguous,
}

/// <summary>One piece of pre-tokenized text: a range of the input.</summary>
internal readonly record struct Piece(int Start, int Length);

/// <summary>
/// Splits text into the pieces ("words") that BPE encodes one at a time. The pieces are ranges of the input: no
/// pre-tokenizer we support rewrites text (the ByteLevel byte mapping happens in <see cref="BpeModel"/>).
/// </summary>
internal abstract class PreTokenizer
{
    /// <summary>Appends the pieces of <paramref name="text"/> to <paramref name="output"/>, offset by
    /// <paramref name="offset"/>. Empty pieces are never produced.</summary>
    public abstract void Split(ReadOnlySpan<char> text, int offset, List<Piece> output);

    /// <summary>Whether a space is put before text that does not start with one (ByteLevel
    /// <c>add_prefix_space</c>); the tokenizer does this to every run of text between added tokens.</summary>
    public virtual bool AddsPrefixSpace => false;
}

/// <summary>Leaves the text whole (ByteLevel with <c>use_regex: false</c>: only the byte mapping, done later).</summary>
internal sealed class WholePreTokenizer(bool addPrefixSpace) : PreTokenizer
{
    public override bool AddsPrefixSpace => addPrefixSpace;

    public override void Split(ReadOnlySpan<char> text, int offset, List<Piece> output)
    {
        if (!text.IsEmpty) output.Add(new Piece(offset, text.Length));
    }
}

/// <summary>Applies pre-tokenizers in turn, each to every piece of the one before.</summary>
internal sealed class SequencePreTokenizer(IReadOnlyList<PreTokenizer> steps) : PreTokenizer
{
    public IReadOnlyList<PreTokenizer> Steps { get; } = steps;

    public override bool AddsPrefixSpace => Steps.Count > 0 && Steps[0].AddsPrefixSpace;

    public override void Split(ReadOnlySpan<char> text, int offset, List<Piece> output)
    {
        if (text.IsEmpty) return;
        var current = new List<Piece> { new(offset, text.Length) };
        var next = new List<Piece>();
        foreach (var step in Steps)
        {
            next.Clear();
            foreach (var p in current) step.Split(text.Slice(p.Start - offset, p.Length), p.Start, next);
            (current, next) = (next, current);
        }
        output.AddRange(current);
    }
}

/// <summary>Finds the matches of a split pattern, left to right, never empty, never overlapping.</summary>
internal abstract class SplitMatcher
{
    /// <summary>The pattern as the file wrote it (for messages).</summary>
    public abstract string Pattern { get; }

    /// <summary>Appends (start, length) of every match in <paramref name="text"/>.</summary>
    public abstract void Matches(ReadOnlySpan<char> text, List<Piece> matches);
}

/// <summary>The HF <c>Split</c> pre-tokenizer: a pattern, a behavior, and optionally inverted matches.</summary>
internal sealed class SplitPreTokenizer(SplitMatcher matcher, SplitBehavior behavior, bool invert, bool addPrefixSpace = false)
    : PreTokenizer
{
    [ThreadStatic] private static List<Piece>? t_matches;

    public SplitMatcher Matcher { get; } = matcher;

    public override bool AddsPrefixSpace => addPrefixSpace;

    public override void Split(ReadOnlySpan<char> text, int offset, List<Piece> output)
    {
        if (text.IsEmpty) return;
        var matches = t_matches ??= new List<Piece>();
        matches.Clear();
        Matcher.Matches(text, matches);

        // Segments covering the text, each flagged as match or not (HF find_matches), then folded by behavior.
        int prev = 0;
        bool previousMatch = false;
        int pendingStart = -1, pendingEnd = -1;
        var segments = new List<(int Start, int End, bool IsMatch)>(matches.Count * 2 + 1);
        foreach (var m in matches)
        {
            if (m.Start > prev) segments.Add((prev, m.Start, invert));
            segments.Add((m.Start, m.Start + m.Length, !invert));
            prev = m.Start + m.Length;
        }
        if (prev < text.Length) segments.Add((prev, text.Length, invert));

        switch (behavior)
        {
            case SplitBehavior.Isolated:
                foreach (var s in segments) output.Add(new Piece(offset + s.Start, s.End - s.Start));
                return;
            case SplitBehavior.Removed:
                foreach (var s in segments)
                    if (!s.IsMatch) output.Add(new Piece(offset + s.Start, s.End - s.Start));
                return;
            case SplitBehavior.MergedWithPrevious:
            case SplitBehavior.Contiguous:
                foreach (var s in segments)
                {
                    bool join = behavior == SplitBehavior.MergedWithPrevious ? s.IsMatch && !previousMatch : s.IsMatch == previousMatch;
                    if (join && pendingStart >= 0) pendingEnd = s.End;
                    else
                    {
                        if (pendingStart >= 0) output.Add(new Piece(offset + pendingStart, pendingEnd - pendingStart));
                        (pendingStart, pendingEnd) = (s.Start, s.End);
                    }
                    previousMatch = s.IsMatch;
                }
                if (pendingStart >= 0) output.Add(new Piece(offset + pendingStart, pendingEnd - pendingStart));
                return;
            case SplitBehavior.MergedWithNext:
                var reversed = new List<(int Start, int End)>();
                for (int i = segments.Count - 1; i >= 0; i--)
                {
                    var s = segments[i];
                    if (s.IsMatch && !previousMatch && reversed.Count > 0)
                        reversed[^1] = (s.Start, reversed[^1].End);
                    else reversed.Add((s.Start, s.End));
                    previousMatch = s.IsMatch;
                }
                for (int i = reversed.Count - 1; i >= 0; i--)
                    output.Add(new Piece(offset + reversed[i].Start, reversed[i].End - reversed[i].Start));
                return;
        }
    }
}

/// <summary>A literal string pattern (<c>{"String": "..."}</c>).</summary>
internal sealed class LiteralMatcher(string literal) : SplitMatcher
{
    public override string Pattern => literal;

    public override void Matches(ReadOnlySpan<char> text, List<Piece> matches)
    {
        if (literal.Length == 0) return;
        int start = 0;
        while (start <= text.Length - literal.Length)
        {
            int i = text[start..].IndexOf(literal.AsSpan(), StringComparison.Ordinal);
            if (i < 0) break;
            matches.Add(new Piece(start + i, literal.Length));
            start += i + literal.Length;
        }
    }
}

/// <summary>
/// Any other regex, run by .NET's engine. .NET matches UTF-16 code units, so classes such as <c>\p{L}</c> do not
/// match letters outside the BMP (they are surrogate pairs, category Cs): the two patterns real files use have
/// exact code-point matchers (<see cref="KnownPatternMatcher"/>); this one is for the rest.
/// </summary>
internal sealed class DotNetRegexMatcher : SplitMatcher
{
    private readonly Regex _regex;

    public DotNetRegexMatcher(string pattern)
    {
        Pattern = pattern;
        _regex = new Regex(pattern, RegexOptions.CultureInvariant);
    }

    public override string Pattern { get; }

    public override void Matches(ReadOnlySpan<char> text, List<Piece> matches)
    {
        foreach (var m in _regex.EnumerateMatches(text))
            if (m.Length > 0) matches.Add(new Piece(m.Index, m.Length));
    }
}

/// <summary>
/// Hand-written matchers, on code points, for the two pre-tokenizer regexes that byte-level BPE models use: GPT-2's
/// and Llama-3's (the same two that llama.cpp's <c>unicode.cpp</c> hard-codes). Each function follows its regex's
/// alternation order and backtracking exactly; <c>\s</c> is Unicode White_Space, <c>\p{L}</c> / <c>\p{N}</c>
/// the general categories of the code point (astral planes included).
/// </summary>
internal sealed class KnownPatternMatcher : SplitMatcher
{
    /// <summary>GPT-2's pattern (the ByteLevel pre-tokenizer's regex when <c>use_regex</c> is true).</summary>
    public const string Gpt2Pattern =
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Llama-3's pattern, as its tokenizer.json declares it.</summary>
    public const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public static readonly KnownPatternMatcher Gpt2 = new(Gpt2Pattern, isLlama3: false);
    public static readonly KnownPatternMatcher Llama3 = new(Llama3Pattern, isLlama3: true);

    private readonly bool _llama3;

    private KnownPatternMatcher(string pattern, bool isLlama3)
    {
        Pattern = pattern;
        _llama3 = isLlama3;
    }

    public override string Pattern { get; }

    /// <summary>The matcher for a pattern string, if it is one of the two known ones.</summary>
    public static KnownPatternMatcher? For(string pattern) =>
        pattern == Gpt2Pattern ? Gpt2 : pattern == Llama3Pattern ? Llama3 : null;

    public override void Matches(ReadOnlySpan<char> text, List<Piece> matches)
    {
        // Both patterns match at every position (their last alternative is \s+ and the others cover every
        // non-space), so the matches tile the text.
        int i = 0;
        while (i < text.Length)
        {
            int end = _llama3 ? MatchLlama3(text, i) : MatchGpt2(text, i);
            matches.Add(new Piece(i, end - i));
            i = end;
        }
    }

    private enum Kind : byte { Letter, Number, Space, Other }

    private static Kind KindAt(ReadOnlySpan<char> s, int i, out int width)
    {
        char c = s[i];
        if (c < 0x80)
        {
            width = 1;
            if ((uint)((c | 0x20) - 'a') <= 'z' - 'a') return Kind.Letter;
            if ((uint)(c - '0') <= 9) return Kind.Number;
            if (c == ' ' || (uint)(c - '\t') <= '\r' - '\t') return Kind.Space;
            return Kind.Other;
        }
        if (Rune.DecodeFromUtf16(s[i..], out var rune, out width) != System.Buffers.OperationStatus.Done)
        {
            width = 1; // a lone surrogate: neither letter, number nor space
            return Kind.Other;
        }
        if (Rune.IsWhiteSpace(rune)) return Kind.Space;
        switch (Rune.GetUnicodeCategory(rune))
        {
            case UnicodeCategory.UppercaseLetter:
            case UnicodeCategory.LowercaseLetter:
            case UnicodeCategory.TitlecaseLetter:
            case UnicodeCategory.ModifierLetter:
            case UnicodeCategory.OtherLetter:
                return Kind.Letter;
            case UnicodeCategory.DecimalDigitNumber:
            case UnicodeCategory.LetterNumber:
            case UnicodeCategory.OtherNumber:
                return Kind.Number;
            default:
                return Kind.Other;
        }
    }

    private static Kind KindAt(ReadOnlySpan<char> s, int i) => KindAt(s, i, out _);

    /// <summary>End of the run of <paramref name="kind"/> starting at <paramref name="i"/>.</summary>
    private static int Run(ReadOnlySpan<char> s, int i, Kind kind)
    {
        while (i < s.Length && KindAt(s, i, out int w) == kind) i += w;
        return i;
    }

    /// <summary>End of 's 't 're 've 'm 'll 'd at <paramref name="i"/> (which holds an apostrophe), or -1.</summary>
    private static int Contraction(ReadOnlySpan<char> s, int i, bool ignoreCase)
    {
        if (i + 1 >= s.Length) return -1;
        char Lower(char c) => ignoreCase && (uint)(c - 'A') <= 'Z' - 'A' ? (char)(c | 0x20) : c;
        char a = Lower(s[i + 1]);
        if (a is 's' or 't' or 'm' or 'd') return i + 2;
        if (i + 2 >= s.Length) return -1;
        char b = Lower(s[i + 2]);
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
        return -1;
    }

    /// <summary>The alternatives <c>\s+(?!\S)|\s+</c> at a whitespace position.</summary>
    private static int TrailingSpace(ReadOnlySpan<char> s, int i, int spaceEnd)
    {
        // \s+ greedy, then (?!\S): at the end of the text it holds; before a non-space it holds one character
        // back (every White_Space character is in the BMP, so one char), if that leaves at least one.
        if (spaceEnd == s.Length) return spaceEnd;
        if (spaceEnd - 1 > i) return spaceEnd - 1;
        return spaceEnd;
    }

    private static int MatchGpt2(ReadOnlySpan<char> s, int i)
    {
        if (s[i] == '\'')
        {
            int e = Contraction(s, i, ignoreCase: false);
            if (e > 0) return e;
        }
        // ` ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+`
        int p = i;
        if (s[i] == ' ' && i + 1 < s.Length && KindAt(s, i + 1) != Kind.Space) p = i + 1;
        var kind = KindAt(s, p);
        if (kind != Kind.Space) return Run(s, p, kind);
        return TrailingSpace(s, i, Run(s, i, Kind.Space));
    }

    private static int MatchLlama3(ReadOnlySpan<char> s, int i)
    {
        char c = s[i];
        if (c == '\'')
        {
            int e = Contraction(s, i, ignoreCase: true);
            if (e > 0) return e;
        }
        var kind = KindAt(s, i, out int width);
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (kind == Kind.Letter) return Run(s, i, Kind.Letter);
        if (kind != Kind.Number && c != '\r' && c != '\n' && i + width < s.Length && KindAt(s, i + width) == Kind.Letter)
            return Run(s, i + width, Kind.Letter);
        // \p{N}{1,3}
        if (kind == Kind.Number)
        {
            int j = i;
            for (int n = 0; n < 3 && j < s.Length && KindAt(s, j, out int w) == Kind.Number; n++) j += w;
            return j;
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        int p = c == ' ' && i + 1 < s.Length && KindAt(s, i + 1) == Kind.Other ? i + 1 : i;
        if (KindAt(s, p) == Kind.Other)
        {
            int j = Run(s, p, Kind.Other);
            while (j < s.Length && s[j] is '\r' or '\n') j++;
            return j;
        }
        // \s*[\r\n]+ : the longest whitespace prefix that ends in a line break
        int spaceEnd = Run(s, i, Kind.Space);
        for (int j = spaceEnd - 1; j >= i; j--)
            if (s[j] is '\r' or '\n') return j + 1;
        return TrailingSpace(s, i, spaceEnd);
    }
}
