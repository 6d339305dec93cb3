using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using BitNet.Models;

namespace BitNet.Tokenization;

/// <summary>
/// A BPE tokenizer. Byte-level (GPT-2, Llama-3, BitNet b1.58 2B4T): added tokens are split out first, the rest is
/// cut into words by the pre-tokenizer the file declares, and each word's UTF-8 bytes are merged by rank.
/// SentencePiece-style (LLaMA-2, the older 1bitLLM BitNet models; <see cref="IsSentencePiece"/>): spaces become "▁",
/// a "▁" goes first, characters merge by score or rank, and unknown characters fall back to byte tokens.
/// Build it from a HF <c>tokenizer.json</c> (<see cref="FromFile"/>) or from the arrays of a GGUF file
/// (<see cref="FromGguf"/>, <see cref="FromGgufSentencePiece"/>). Thread-safe: encoding keeps a shared per-word cache.
/// </summary>
/// <example><code>
/// var tokenizer = BpeTokenizer.FromFile("tokenizer.json");
/// int[] ids = tokenizer.Encode("Hello", new EncodeOptions { AddBos = true });
/// string text = tokenizer.Decode(ids);
/// </code></example>
public sealed class BpeTokenizer
{
    /// <summary>Words up to this many UTF-16 chars are cached; the cache stops growing at
    /// <see cref="CacheCapacity"/> words.</summary>
    private const int MaxCachedWordLength = 64;
    private const int CacheCapacity = 1 << 17;

    private readonly BpeModel? _model;
    private readonly SentencePieceModel? _spm;
    private readonly PreTokenizer _preTokenizer;
    private readonly string?[] _tokens;
    private readonly byte[][] _tokenBytes;
    private readonly bool[] _isSpecial;
    private readonly AddedTokenMatcher _allAdded;
    private readonly AddedTokenMatcher _nonSpecialAdded;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheBySpan;
    private readonly Dictionary<string, int> _addedByContent = new(StringComparer.Ordinal);
    private int _cacheCount; // ConcurrentDictionary.Count takes every lock: count insertions ourselves

    internal BpeTokenizer(string source, BpeModel model, PreTokenizer preTokenizer, string?[] tokens,
        IReadOnlyList<AddedToken> addedTokens, int? bosId, int? eosId)
        : this(source, model, null, preTokenizer, tokens, addedTokens, bosId, eosId)
    {
    }

    /// <summary>A SentencePiece-style tokenizer: <paramref name="model"/> does all the work on text between added
    /// tokens (no pre-tokenizer, no cache).</summary>
    internal BpeTokenizer(string source, SentencePieceModel model, string?[] tokens, IReadOnlyList<AddedToken> addedTokens,
        int? bosId, int? eosId)
        : this(source, null, model, new WholePreTokenizer(addPrefixSpace: false), tokens, addedTokens, bosId, eosId)
    {
    }

    private BpeTokenizer(string source, BpeModel? model, SentencePieceModel? spm, PreTokenizer preTokenizer, string?[] tokens,
        IReadOnlyList<AddedToken> addedTokens, int? bosId, int? eosId)
    {
        Source = source;
        _model = model;
        _spm = spm;
        _preTokenizer = preTokenizer;
        _tokens = tokens;
        AddedTokens = addedTokens;
        _cacheBySpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();

        _isSpecial = new bool[tokens.Length];
        _tokenBytes = new byte[tokens.Length][];
        for (int id = 0; id < tokens.Length; id++)
        {
            _tokenBytes[id] = tokens[id] is not { } t ? []
                : spm is not null ? SentencePieceModel.TokenBytes(t, spm.IsByteToken(id, t))
                : ByteLevel.Decode(t) ?? Encoding.UTF8.GetBytes(t);
        }
        foreach (var a in addedTokens)
        {
            // Added tokens are their text, not byte-level spellings.
            _tokenBytes[a.Id] = Encoding.UTF8.GetBytes(a.Content);
            _isSpecial[a.Id] = a.IsSpecial;
            _addedByContent.TryAdd(a.Content, a.Id);
        }
        _allAdded = new AddedTokenMatcher(addedTokens);
        _nonSpecialAdded = new AddedTokenMatcher(addedTokens.Where(a => !a.IsSpecial));

        BosId = CheckId(bosId, "BOS");
        EosId = CheckId(eosId, "EOS");
        var stops = new List<int>();
        foreach (var name in new[] { "<|eot_id|>", "<|end_of_text|>" })
            if (TokenToId(name) is int id) stops.Add(id);
        if (EosId is int eos && !stops.Contains(eos)) stops.Add(eos);
        StopTokenIds = stops;

        int? CheckId(int? id, string what) => id is null || (id >= 0 && id < tokens.Length)
            ? id
            : throw new ModelFormatException(source, $"{what} id {id} is outside the vocabulary of {tokens.Length}");
    }

    /// <summary>Where the tokenizer came from (a path, or "gguf").</summary>
    public string Source { get; }

    /// <summary>The number of token ids (one more than the highest id, added tokens included).</summary>
    public int VocabSize => _tokens.Length;

    /// <summary>The beginning-of-text token, if known.</summary>
    public int? BosId { get; }

    /// <summary>The end-of-text token, if known.</summary>
    public int? EosId { get; }

    /// <summary>Tokens that end a generated reply: <c>&lt;|eot_id|&gt;</c> and <c>&lt;|end_of_text|&gt;</c> where
    /// the vocabulary has them, and <see cref="EosId"/>.</summary>
    public IReadOnlyList<int> StopTokenIds { get; }

    /// <summary>The added tokens, special and not.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>Whether a pre-token word that is itself in the vocabulary becomes that token without merging
    /// (HF <c>ignore_merges</c>; Llama-3 sets it).</summary>
    public bool IgnoresMerges => _model?.IgnoreMerges ?? false;

    /// <summary>Whether this is a SentencePiece-style vocabulary ("▁" for spaces, byte-fallback tokens) rather than
    /// byte-level BPE.</summary>
    public bool IsSentencePiece => _spm is not null;

    /// <summary>The Jinja chat template the model's files carry (GGUF <c>tokenizer.chat_template</c>, or
    /// <c>chat_template</c> in the tokenizer_config.json beside a tokenizer.json), or null; see
    /// <see cref="ChatTemplate.For"/>.</summary>
    public string? ChatTemplateSource { get; internal set; }

    /// <summary>Whether the model's files ask for BOS before a prompt (GGUF <c>tokenizer.ggml.add_bos_token</c>; true
    /// when they do not say). <see cref="ChatTemplate.EncodeText"/> follows it.</summary>
    public bool AddsBos { get; internal set; } = true;

    /// <summary>Reads a HF <c>tokenizer.json</c>.</summary>
    /// <param name="path">The file.</param>
    /// <param name="bosId">The BOS id, if known from elsewhere (config.json); by default the first of
    /// <c>&lt;|begin_of_text|&gt;</c>, <c>&lt;s&gt;</c>, <c>&lt;|startoftext|&gt;</c> that the file has.</param>
    /// <param name="eosId">The EOS id; by default the first of <c>&lt;|end_of_text|&gt;</c>, <c>&lt;/s&gt;</c>,
    /// <c>&lt;|endoftext|&gt;</c> that the file has.</param>
    /// <exception cref="ModelFormatException">The file is not a byte-level BPE tokenizer we can reproduce.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static BpeTokenizer FromFile(string path, int? bosId = null, int? eosId = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no such file: {path}", path);
        return TokenizerJson.Parse(File.ReadAllBytes(path), path, bosId, eosId);
    }

    /// <summary>Reads the text of a HF <c>tokenizer.json</c>; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="ModelFormatException">The JSON is not a byte-level BPE tokenizer we can reproduce.</exception>
    public static BpeTokenizer FromJson(string json, string source = "tokenizer.json", int? bosId = null, int? eosId = null) =>
        TokenizerJson.Parse(Encoding.UTF8.GetBytes(json), source, bosId, eosId);

    /// <summary>
    /// Builds the tokenizer from the arrays of a GGUF file (<c>tokenizer.ggml.*</c> with model "gpt2").
    /// </summary>
    /// <param name="tokens"><c>tokenizer.ggml.tokens</c>: the byte-level spelling of each id.</param>
    /// <param name="merges"><c>tokenizer.ggml.merges</c>: "left right", highest priority first.</param>
    /// <param name="tokenTypes"><c>tokenizer.ggml.token_type</c>, or null: 3 (CONTROL) makes a special added token,
    /// 4 (USER_DEFINED) a non-special one.</param>
    /// <param name="bosId"><c>tokenizer.ggml.bos_token_id</c>.</param>
    /// <param name="eosId"><c>tokenizer.ggml.eos_token_id</c>.</param>
    /// <param name="preTokenizer"><c>tokenizer.ggml.pre</c>: "llama-bpe" (also "llama3", "llama-v3", "falcon3")
    /// for the Llama-3 regex with merges ignored for whole-vocabulary words, "gpt2" / "gpt-2" / "default" or null for
    /// GPT-2's.</param>
    /// <param name="source">Names the file in errors.</param>
    /// <exception cref="ModelFormatException">The arrays disagree, or the pre-tokenizer is unknown.</exception>
    public static BpeTokenizer FromGguf(IReadOnlyList<string> tokens, IReadOnlyList<string> merges,
        IReadOnlyList<int>? tokenTypes, int? bosId, int? eosId, string? preTokenizer, string source = "gguf")
    {
        ModelFormatException Fail(string problem) => new(source, problem);
        if (tokenTypes is not null && tokenTypes.Count != tokens.Count)
            throw Fail($"tokenizer.ggml.token_type has {tokenTypes.Count} entries for {tokens.Count} tokens");
        (SplitMatcher matcher, bool ignoreMerges) = preTokenizer switch
        {
            "llama-bpe" or "llama3" or "llama-v3" or "falcon3" => ((SplitMatcher)KnownPatternMatcher.Llama3, true),
            null or "gpt2" or "gpt-2" or "default" => (KnownPatternMatcher.Gpt2, false),
            _ => throw Fail($"tokenizer.ggml.pre '{preTokenizer}' is not a supported pre-tokenizer (llama-bpe, gpt2)"),
        };
        var vocab = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        var added = new List<AddedToken>();
        for (int id = 0; id < tokens.Count; id++)
        {
            vocab.TryAdd(tokens[id], id);
            int type = tokenTypes?[id] ?? 1;
            if (type is 3 or 4) added.Add(new AddedToken(id, tokens[id], IsSpecial: type == 3));
        }
        var pairs = new List<(string, string)>(merges.Count);
        for (int i = 0; i < merges.Count; i++) pairs.Add(SplitMerge(merges[i], i, Fail));
        var model = new BpeModel(vocab, pairs, ignoreMerges, Fail);
        return new BpeTokenizer(source, model, new SplitPreTokenizer(matcher, SplitBehavior.Isolated, invert: false),
            tokens.ToArray(), added, bosId, eosId);
    }

    /// <summary>
    /// Builds a SentencePiece-style tokenizer from the arrays of a GGUF file with <c>tokenizer.ggml.model</c> "llama"
    /// (LLaMA-2 and the older BitNet models): merges by score as llama.cpp's <c>llm_tokenizer_spm</c> does.
    /// </summary>
    /// <param name="tokens"><c>tokenizer.ggml.tokens</c>: each id's text, "▁" for a space, <c>&lt;0xNN&gt;</c> for byte tokens.</param>
    /// <param name="scores"><c>tokenizer.ggml.scores</c>: higher merges first.</param>
    /// <param name="tokenTypes"><c>tokenizer.ggml.token_type</c>, or null: 2 (UNKNOWN) and 3 (CONTROL) make special
    /// added tokens, 4 (USER_DEFINED) non-special ones.</param>
    /// <param name="bosId"><c>tokenizer.ggml.bos_token_id</c>.</param>
    /// <param name="eosId"><c>tokenizer.ggml.eos_token_id</c>.</param>
    /// <param name="unknownId"><c>tokenizer.ggml.unknown_token_id</c>, or null for the first UNKNOWN-type token.</param>
    /// <param name="addSpacePrefix"><c>tokenizer.ggml.add_space_prefix</c> (true when absent): "▁" before the text and
    /// after every special token.</param>
    /// <param name="source">Names the file in errors.</param>
    /// <exception cref="ModelFormatException">The arrays disagree, or byte fallback has neither byte tokens nor an
    /// unknown token.</exception>
    public static BpeTokenizer FromGgufSentencePiece(IReadOnlyList<string> tokens, IReadOnlyList<float> scores,
        IReadOnlyList<int>? tokenTypes, int? bosId, int? eosId, int? unknownId, bool addSpacePrefix, string source = "gguf")
    {
        ModelFormatException Fail(string problem) => new(source, problem);
        if (scores.Count != tokens.Count)
            throw Fail($"tokenizer.ggml.scores has {scores.Count} entries for {tokens.Count} tokens");
        if (tokenTypes is not null && tokenTypes.Count != tokens.Count)
            throw Fail($"tokenizer.ggml.token_type has {tokenTypes.Count} entries for {tokens.Count} tokens");
        if (unknownId is int u && (u < 0 || u >= tokens.Count))
            throw Fail($"unknown token id {u} is outside the vocabulary of {tokens.Count}");
        var vocab = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        var added = new List<AddedToken>();
        for (int id = 0; id < tokens.Count; id++)
        {
            vocab.TryAdd(tokens[id], id);
            int type = tokenTypes?[id] ?? 1;
            if (type == 2) unknownId ??= id;
            if (type is 2 or 3 or 4) added.Add(new AddedToken(id, tokens[id], IsSpecial: type != 4));
        }
        var model = SentencePieceModel.ByScore(vocab, scores.ToArray(), unknownId,
            addSpacePrefix ? SpacePrefix.EveryRun : SpacePrefix.None, Fail);
        return new BpeTokenizer(source, model, tokens.ToArray(), added, bosId, eosId);
    }

    /// <summary>The arrays a GGUF file holds for this tokenizer (<c>tokenizer.ggml.tokens</c>, <c>token_type</c>,
    /// <c>merges</c>, <c>pre</c>), such that <see cref="FromGguf"/> reads back a tokenizer that encodes the same.</summary>
    /// <exception cref="NotSupportedException">The pre-tokenizer has no GGUF name (only the GPT-2 and Llama-3 splits do).</exception>
    internal (string[] Tokens, int[] TokenTypes, string[] Merges, string PreTokenizer) ToGgufArrays()
    {
        if (_model is null)
            throw new NotSupportedException($"{Source}: writing a SentencePiece tokenizer to GGUF is not supported yet");
        static string? KnownName(PreTokenizer p) => p switch
        {
            SplitPreTokenizer { AddsPrefixSpace: false, Matcher: KnownPatternMatcher m } => ReferenceEquals(m, KnownPatternMatcher.Llama3) ? "llama-bpe" : "gpt2",
            SequencePreTokenizer seq when seq.Steps.Count(s => s is not WholePreTokenizer { AddsPrefixSpace: false }) == 1 =>
                KnownName(seq.Steps.First(s => s is not WholePreTokenizer { AddsPrefixSpace: false })),
            _ => null,
        };
        string pre = KnownName(_preTokenizer)
            ?? throw new NotSupportedException($"{Source}: the pre-tokenizer has no GGUF name (only the GPT-2 and Llama-3 splits do)");
        var tokens = new string[_tokens.Length];
        var types = new int[_tokens.Length];
        for (int id = 0; id < tokens.Length; id++)
        {
            tokens[id] = _tokens[id] ?? $"[PAD{id}]";
            types[id] = _tokens[id] is null ? 5 : 1; // UNUSED for gaps in the vocabulary, else NORMAL
        }
        foreach (var a in AddedTokens) types[a.Id] = a.IsSpecial ? 3 : 4; // CONTROL / USER_DEFINED
        string[] merges = _model.MergesByRank().Select(m => $"{_tokens[m.Left]} {_tokens[m.Right]}").ToArray();
        return (tokens, types, merges, pre);
    }

    /// <summary>The arrays of a GGUF <c>tokenizer.ggml.model</c> "llama" file for a SentencePiece-style tokenizer, such
    /// that <see cref="FromGgufSentencePiece"/> reads back a tokenizer that encodes the same (for one built from a
    /// tokenizer.json the scores come from the merge ranks; a Metaspace "first" prefix becomes llama.cpp's "after
    /// every special token").</summary>
    /// <exception cref="NotSupportedException">A byte-level tokenizer (<see cref="ToGgufArrays"/>).</exception>
    internal (string[] Tokens, int[] TokenTypes, float[] Scores, bool AddSpacePrefix, int? UnknownId) ToGgufSentencePiece()
    {
        var spm = _spm ?? throw new NotSupportedException($"{Source}: not a SentencePiece-style tokenizer");
        var tokens = new string[_tokens.Length];
        var types = new int[_tokens.Length];
        for (int id = 0; id < tokens.Length; id++)
        {
            tokens[id] = _tokens[id] ?? $"[PAD{id}]";
            types[id] = _tokens[id] is not { } t ? 5 : spm.IsByteToken(id, t) ? 6 : 1; // UNUSED, BYTE, NORMAL
        }
        foreach (var a in AddedTokens) types[a.Id] = a.Id == spm.UnknownId ? 2 : a.IsSpecial ? 3 : 4; // UNKNOWN / CONTROL / USER_DEFINED
        return (tokens, types, spm.ScoresForGguf(_tokens), spm.Prefix != SpacePrefix.None, spm.UnknownId);
    }

    internal static (string, string) SplitMerge(string merge, int index, Func<string, Exception> fail)
    {
        int space = merge.IndexOf(' ', 1);
        if (space < 0 || space == merge.Length - 1 || merge.IndexOf(' ', space + 1) >= 0)
            throw fail($"merge {index} '{merge}' is not two tokens separated by one space");
        return (merge[..space], merge[(space + 1)..]);
    }

    /// <summary>The id of a token given in its vocabulary spelling (byte-level, "Ġthe"; added tokens as their
    /// text), or null.</summary>
    public int? TokenToId(string token)
    {
        if (_addedByContent.TryGetValue(token, out int added)) return added;
        if (_spm is not null) return _spm.TryGetId(token, out int piece) ? piece : null;
        return _model!.TryGetId(token, out int id) ? id : null;
    }

    /// <summary>A token's vocabulary spelling (byte-level for BPE tokens), or null for an unused id.</summary>
    public string? IdToToken(int id) => _tokens[CheckRange(id)];

    /// <summary>The bytes a token stands for (UTF-8 fragments: a token may hold part of a character).</summary>
    public ReadOnlySpan<byte> TokenBytes(int id) => _tokenBytes[CheckRange(id)];

    /// <summary>Whether an id is a special (control) token.</summary>
    public bool IsSpecial(int id) => _isSpecial[CheckRange(id)];

    private int CheckRange(int id) => (uint)id < (uint)_tokens.Length
        ? id
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"token id outside the vocabulary of {_tokens.Length}");

    /// <summary>Encodes text into token ids.</summary>
    public int[] Encode(string text, EncodeOptions? options = null)
    {
        var ids = new List<int>(text.Length / 3 + 2);
        Encode(text.AsSpan(), ids, options);
        return ids.ToArray();
    }

    /// <summary>Encodes text, appending the token ids to <paramref name="output"/>.</summary>
    /// <exception cref="InvalidOperationException"><see cref="EncodeOptions.AddBos"/> with no BOS token.</exception>
    public void Encode(ReadOnlySpan<char> text, List<int> output, EncodeOptions? options = null)
    {
        options ??= EncodeOptions.Default;
        if (options.AddBos)
            output.Add(BosId ?? throw new InvalidOperationException($"{Source}: the tokenizer has no BOS token"));
        var matcher = options.ParseSpecial ? _allAdded : _nonSpecialAdded;
        int pos = 0;
        while (pos < text.Length)
        {
            var (start, token) = matcher.FindNext(text, pos);
            EncodeOrdinary(text[pos..start], pos == 0, output);
            if (token is null) break;
            output.Add(token.Id);
            pos = start + token.Content.Length;
        }
    }

    /// <summary>Text between added tokens: pre-tokenize, then BPE each word (through the cache).</summary>
    private void EncodeOrdinary(ReadOnlySpan<char> text, bool startsInput, List<int> output)
    {
        if (text.IsEmpty) return;
        if (_spm is not null)
        {
            _spm.Encode(text, startsInput, output);
            return;
        }
        if (_preTokenizer.AddsPrefixSpace && text[0] != ' ') text = string.Concat(" ", text);
        var pieces = new List<Piece>();
        _preTokenizer.Split(text, 0, pieces);
        Span<byte> buffer = stackalloc byte[512];
        foreach (var p in pieces)
        {
            var word = text.Slice(p.Start, p.Length);
            if (_cacheBySpan.TryGetValue(word, out var cached))
            {
                output.AddRange(cached);
                continue;
            }
            int first = output.Count;
            int max = Encoding.UTF8.GetMaxByteCount(word.Length);
            byte[]? rented = max > 512 ? ArrayPool<byte>.Shared.Rent(max) : null;
            Span<byte> bytes = rented is not null ? rented : buffer;
            int n = Encoding.UTF8.GetBytes(word, bytes);
            _model!.EncodeWord(bytes[..n], output);
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
            if (word.Length <= MaxCachedWordLength && Volatile.Read(ref _cacheCount) < CacheCapacity
                && _cacheBySpan.TryAdd(word, output.GetRange(first, output.Count - first).ToArray()))
                Interlocked.Increment(ref _cacheCount);
        }
    }

    /// <summary>Decodes token ids to text. Bytes that are not valid UTF-8 (a character cut off at the end) become
    /// U+FFFD. A SentencePiece tokenizer that puts "▁" first drops one space from the start of the first token (HF's
    /// <c>Strip</c> decoder, llama.cpp's <c>remove_space</c>), so decoding an encoded text gives it back; a
    /// <see cref="TokenStreamDecoder"/> keeps it (it decodes a continuation).</summary>
    /// <param name="ids">The tokens.</param>
    /// <param name="skipSpecial">Leave out special tokens (BOS, <c>&lt;|eot_id|&gt;</c>).</param>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var bytes = new ArrayBufferWriter<byte>(Math.Max(16, ids.Length * 4));
        bool first = _spm is { StripsLeadingSpace: true };
        foreach (int id in ids)
        {
            if (skipSpecial && IsSpecial(id)) continue;
            var piece = TokenBytes(id);
            if (first && !IsSpecial(id) && piece.Length > 0 && piece[0] == (byte)' ') piece = piece[1..];
            first = false;
            bytes.Write(piece);
        }
        return Encoding.UTF8.GetString(bytes.WrittenSpan);
    }

    /// <summary>A decoder for tokens that arrive one at a time (generation): it returns text as soon as it is whole
    /// UTF-8 and holds back the start of a character until the tokens that finish it arrive.</summary>
    public TokenStreamDecoder CreateStreamDecoder(bool skipSpecial = false) => new(this, skipSpecial);
}
