using System.Collections;
using System.Text;

namespace BitNet.Models;

/// <summary>
/// A GGUF array of strings (tokenizer.ggml.tokens, merges) read in place: the offsets of the elements were found
/// while the header was validated, and each element is decoded only when it is read. Valid until the file is disposed.
/// </summary>
public sealed class GgufStringArray : IReadOnlyList<string>
{
    private readonly GgufFile _file;
    private readonly GgufValue _value;

    internal GgufStringArray(GgufFile file, string key, GgufValue value)
    {
        _file = file;
        Key = key;
        _value = value;
        if (value.Count > int.MaxValue) throw new ModelFormatException(file.Path, $"metadata key '{key}': {value.Count} strings are more than a list can index");
    }

    /// <summary>The metadata key this array came from.</summary>
    public string Key { get; }

    /// <inheritdoc />
    public int Count => (int)_value.Count;

    /// <summary>Element <paramref name="index"/>, decoded from UTF-8.</summary>
    /// <exception cref="ModelFormatException">The element is not valid UTF-8.</exception>
    public string this[int index]
    {
        get
        {
            try
            {
                return _value.GetString(index);
            }
            catch (DecoderFallbackException)
            {
                throw new ModelFormatException(_file.Path, $"metadata key '{Key}': element {index} is not valid UTF-8");
            }
        }
    }

    /// <summary>Element <paramref name="index"/> as its stored UTF-8 bytes (no copy).</summary>
    public ReadOnlySpan<byte> GetUtf8(int index) => _value.GetUtf8(index);

    /// <inheritdoc />
    public IEnumerator<string> GetEnumerator()
    {
        for (int i = 0; i < Count; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
