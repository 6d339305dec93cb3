using System.Buffers;

namespace BitNet.Tokenization;

/// <summary>Finds added tokens in text, leftmost first and longest at a position (HF tokenizers' Aho-Corasick
/// <c>LeftmostLongest</c>).</summary>
internal sealed class AddedTokenMatcher
{
    /// <summary>Tokens by their first character, longest first.</summary>
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;
    private readonly SearchValues<char> _firstChars;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        _firstChars = SearchValues.Create(_byFirstChar.Keys.ToArray());
    }

    /// <summary>The first added token at or after <paramref name="from"/>: its position and the token, or
    /// (text length, null).</summary>
    public (int Start, AddedToken? Token) FindNext(ReadOnlySpan<char> text, int from)
    {
        if (_byFirstChar.Count == 0) return (text.Length, null);
        int i = from;
        while (i < text.Length)
        {
            int k = text[i..].IndexOfAny(_firstChars);
            if (k < 0) break;
            i += k;
            foreach (var t in _byFirstChar[text[i]])
                if (text[i..].StartsWith(t.Content, StringComparison.Ordinal)) return (i, t);
            i++;
        }
        return (text.Length, null);
    }
}
