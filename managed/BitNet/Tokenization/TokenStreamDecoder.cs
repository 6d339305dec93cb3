using System.Text;

namespace BitNet.Tokenization;

/// <summary>
/// Turns tokens that arrive one at a time into text. A byte-level token may hold part of a UTF-8 character (an
/// emoji is often two or three tokens); the decoder keeps such a partial character until the tokens that complete
/// it arrive, so every string it returns is whole characters. Not thread-safe: one per generation.
/// </summary>
public sealed class TokenStreamDecoder
{
    private readonly BpeTokenizer _tokenizer;
    private readonly bool _skipSpecial;
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[64];

    internal TokenStreamDecoder(BpeTokenizer tokenizer, bool skipSpecial)
    {
        _tokenizer = tokenizer;
        _skipSpecial = skipSpecial;
    }

    /// <summary>Adds one token; returns the text it completes (empty while a character is still partial).</summary>
    public string Append(int id)
    {
        if (_skipSpecial && _tokenizer.IsSpecial(id)) return "";
        return Convert(_tokenizer.TokenBytes(id), flush: false);
    }

    /// <summary>Ends the stream: a partial character left over becomes U+FFFD. The decoder can then start
    /// again.</summary>
    public string Flush() => Convert([], flush: true);

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        int max = _utf8.GetCharCount(bytes, flush);
        if (max > _chars.Length) _chars = new char[Math.Max(max, _chars.Length * 2)];
        int n = _utf8.GetChars(bytes, _chars, flush);
        return n == 0 ? "" : new string(_chars, 0, n);
    }
}
