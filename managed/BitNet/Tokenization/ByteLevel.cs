namespace BitNet.Tokenization;

/// <summary>
/// GPT-2's reversible byte-to-character map (<c>bytes_to_unicode</c> in openai/gpt-2 <c>encoder.py</c>, the
/// <c>ByteLevel</c> pre-tokenizer and decoder of HF tokenizers): the 188 printable bytes ('!'..'~', '¡'..'¬',
/// '®'..'ÿ') map to themselves, the other 68 to U+0100 onwards in byte order. Byte-level BPE vocabularies are
/// written in these characters, so "Ġ" (U+0120) is the space byte.
/// </summary>
internal static class ByteLevel
{
    /// <summary>Character of each byte.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    /// <summary>Byte of each character below U+0144, or -1 for characters outside the map.</summary>
    private static readonly short[] s_charToByte = BuildCharToByte();

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var inverse = new short[256 + 68];
        Array.Fill(inverse, (short)-1);
        for (int b = 0; b < 256; b++) inverse[ByteToChar[b]] = (short)b;
        return inverse;
    }

    /// <summary>The byte a character stands for, or -1 if it is not one of the 256 byte characters.</summary>
    public static int CharToByte(char c) => c < s_charToByte.Length ? s_charToByte[c] : -1;

    /// <summary>The byte-level spelling of raw bytes ("Ġhello" for " hello").</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        Span<char> chars = bytes.Length <= 256 ? stackalloc char[bytes.Length] : new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    /// <summary>The bytes a byte-level string stands for, or null if it holds a character outside the map.</summary>
    public static byte[]? Decode(string text)
    {
        var bytes = new byte[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            int b = CharToByte(text[i]);
            if (b < 0) return null;
            bytes[i] = (byte)b;
        }
        return bytes;
    }
}
