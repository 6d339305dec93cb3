using System.Text;

namespace BitNet.Tokenization;

/// <summary>Where a SentencePiece tokenizer puts the "▁" that stands for the space before the first word.</summary>
internal enum SpacePrefix
{
    /// <summary>Never (<c>add_space_prefix</c> false, Metaspace <c>prepend_scheme: never</c>).</summary>
    None,
    /// <summary>Before every run of text between added tokens: llama.cpp's <c>llm_tokenizer_spm</c> after BOS or any
    /// special token, HF's <c>Prepend</c> normalizer (applied to each run), Metaspace <c>always</c>.</summary>
    EveryRun,
    /// <summary>Only before the run that starts the input (Metaspace <c>prepend_scheme: first</c>, the
    /// non-legacy Llama tokenizer.json).</summary>
    FirstRun,
}

/// <summary>
/// SentencePiece-style BPE as the LLaMA-1/2 vocabulary uses it (and with it 1bitLLM/bitnet_b1_58-* and the other
/// older BitNet models): spaces become "▁" (U+2581), a "▁" goes first (<see cref="SpacePrefix"/>), and the text is
/// merged character by character. Two merge orders exist and both are supported:
/// <list type="bullet">
/// <item>by score (GGUF <c>tokenizer.ggml.scores</c>, llama.cpp <c>llm_tokenizer_spm</c>): the adjacent pair whose
/// concatenation is the vocabulary entry of highest score merges first, leftmost on ties;</item>
/// <item>by rank (HF <c>tokenizer.json</c> model BPE with <c>byte_fallback</c>): the pair with the lowest merge rank
/// merges first, leftmost on ties.</item>
/// </list>
/// A piece left over that is not a token is written as its UTF-8 bytes, each as its <c>&lt;0xNN&gt;</c> token
/// (byte fallback), or as the unknown token when the vocabulary has no byte tokens.
/// </summary>
internal sealed class SentencePieceModel
{
    /// <summary>The character SentencePiece writes for a space.</summary>
    public const char Metaspace = '\u2581';

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabBySpan;
    /// <summary>Score of each id (score order), or null (rank order).</summary>
    private readonly float[]? _scores;
    /// <summary>(left id &lt;&lt; 32 | right id) → rank (rank order), or null (score order).</summary>
    private readonly Dictionary<long, int>? _mergeRanks;
    /// <summary>The id of the <c>&lt;0xNN&gt;</c> token of each byte, or -1.</summary>
    private readonly int[] _byteIds = new int[256];
    private readonly int? _unkId;
    /// <summary>Rank order: each merged token's best (lowest) merge rank, for writing scores.</summary>
    private readonly Dictionary<int, int>? _rankOfMerged;

    private SentencePieceModel(Dictionary<string, int> vocab, float[]? scores, Dictionary<long, int>? mergeRanks,
        Dictionary<int, int>? rankOfMerged, int? unkId, SpacePrefix prefix, bool prefixOnlyWithoutMetaspace, bool splitWords,
        bool byteFallback, Func<string, Exception> fail)
    {
        _rankOfMerged = rankOfMerged;
        _vocab = vocab;
        _vocabBySpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _scores = scores;
        _mergeRanks = mergeRanks;
        _unkId = unkId;
        Prefix = prefix;
        StripsLeadingSpace = prefix != SpacePrefix.None;
        PrefixOnlyWithoutMetaspace = prefixOnlyWithoutMetaspace;
        SplitWords = splitWords;
        bool allBytes = true;
        for (int b = 0; b < 256; b++)
        {
            _byteIds[b] = byteFallback && vocab.TryGetValue(ByteTokenName(b), out int id) ? id : -1;
            allBytes &= _byteIds[b] >= 0;
        }
        if (!allBytes && unkId is null)
            throw fail(byteFallback
                ? "byte fallback needs the 256 tokens <0x00>..<0xFF> or an unknown token, and the vocabulary has neither"
                : "a SentencePiece vocabulary without byte fallback needs an unknown token");
    }

    /// <summary>A model that merges by score (GGUF <c>tokenizer.ggml.model</c> "llama").</summary>
    /// <param name="vocab">token text (with "▁") → id; the first id of a repeated text wins.</param>
    /// <param name="scores">score of each id.</param>
    /// <param name="unkId">the unknown token, if any.</param>
    /// <param name="prefix">where "▁" goes first.</param>
    /// <param name="fail">makes the exception for a problem in the data.</param>
    public static SentencePieceModel ByScore(Dictionary<string, int> vocab, float[] scores, int? unkId, SpacePrefix prefix,
        Func<string, Exception> fail) =>
        new(vocab, scores, null, null, unkId, prefix, prefixOnlyWithoutMetaspace: false, splitWords: false, byteFallback: true, fail);

    /// <summary>A model that merges by rank (HF <c>tokenizer.json</c>).</summary>
    /// <param name="vocab">token text → id.</param>
    /// <param name="merges">(left, right), highest priority first.</param>
    /// <param name="unkId">the unknown token, if any.</param>
    /// <param name="byteFallback">unknown characters become <c>&lt;0xNN&gt;</c> tokens (else the unknown token).</param>
    /// <param name="prefix">where "▁" goes first.</param>
    /// <param name="prefixOnlyWithoutMetaspace">skip the prefix when the run already starts with "▁" (HF Metaspace).</param>
    /// <param name="splitWords">cut the text before each "▁" and merge each word alone (Metaspace <c>split</c>).</param>
    /// <param name="fail">makes the exception for a problem in the data.</param>
    public static SentencePieceModel ByRank(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges,
        int? unkId, bool byteFallback, SpacePrefix prefix, bool prefixOnlyWithoutMetaspace, bool splitWords,
        Func<string, Exception> fail)
    {
        var ranks = new Dictionary<long, int>(merges.Count);
        var rankOfMerged = new Dictionary<int, int>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            if (!vocab.TryGetValue(left, out int l))
                throw fail($"merge {rank} '{left} {right}' references '{left}', which is not in the vocabulary");
            if (!vocab.TryGetValue(right, out int r))
                throw fail($"merge {rank} '{left} {right}' references '{right}', which is not in the vocabulary");
            if (!vocab.TryGetValue(left + right, out int merged))
                throw fail($"merge {rank} '{left} {right}' makes '{left + right}', which is not in the vocabulary");
            ranks[((long)l << 32) | (uint)r] = rank;
            rankOfMerged.TryAdd(merged, rank);
        }
        return new SentencePieceModel(vocab, null, ranks, rankOfMerged, unkId, prefix, prefixOnlyWithoutMetaspace, splitWords, byteFallback, fail);
    }

    /// <summary>Where "▁" goes first.</summary>
    public SpacePrefix Prefix { get; }

    /// <summary>Whether decoding drops one space from the start of the first token (the "▁" the encoder put there:
    /// HF's <c>Strip</c> decoder step, llama.cpp's <c>remove_space</c>). By default when <see cref="Prefix"/> adds one.</summary>
    public bool StripsLeadingSpace { get; set; }

    /// <summary>Whether a run that already starts with "▁" (a space) gets no second one (HF Metaspace; llama.cpp
    /// and the Prepend normalizer always add it).</summary>
    public bool PrefixOnlyWithoutMetaspace { get; }

    /// <summary>Whether each "▁"-led word is merged alone (Metaspace <c>split: true</c>).</summary>
    public bool SplitWords { get; }

    /// <summary>The unknown token, if any.</summary>
    public int? UnknownId => _unkId;

    /// <summary>Whether <paramref name="id"/> is the <c>&lt;0xNN&gt;</c> token of a byte.</summary>
    public bool IsByteToken(int id, string token) => ParseByteToken(token) is var b and >= 0 && _byteIds[b] == id;

    /// <summary>A score for each of the ids of <paramref name="tokens"/> such that merging by score (GGUF, llama.cpp) follows
    /// the model: its own scores, or for a model that merges by rank -(1 + the best rank of a merge making the token),
    /// and -1e9 for multi-character tokens no merge makes (which rank order never forms).</summary>
    public float[] ScoresForGguf(IReadOnlyList<string?> tokens)
    {
        if (_scores is not null) return (float[])_scores.Clone();
        var scores = new float[tokens.Count];
        for (int id = 0; id < scores.Length; id++)
        {
            if (_rankOfMerged!.TryGetValue(id, out int rank)) scores[id] = -(1 + rank);
            else if (tokens[id] is { } t && t.Length > 1 && !(t.Length == 2 && char.IsSurrogatePair(t[0], t[1]))) scores[id] = -1e9f;
        }
        return scores;
    }

    /// <summary>The byte-fallback token name of a byte: <c>&lt;0x0A&gt;</c>.</summary>
    public static string ByteTokenName(int b) => $"<0x{b:X2}>";

    /// <summary>The byte a <c>&lt;0xNN&gt;</c> token stands for, or -1 if the text is not one.</summary>
    public static int ParseByteToken(string token)
    {
        if (token.Length != 6 || !token.StartsWith("<0x", StringComparison.Ordinal) || token[5] != '>') return -1;
        return int.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier,
            System.Globalization.CultureInfo.InvariantCulture, out int b) ? b : -1;
    }

    /// <summary>The bytes a vocabulary entry stands for: the byte of a byte token, else its text with "▁" as a space.</summary>
    public static byte[] TokenBytes(string token, bool isByteToken)
    {
        if (isByteToken && ParseByteToken(token) is var b and >= 0) return [(byte)b];
        return Encoding.UTF8.GetBytes(token.Replace(Metaspace, ' '));
    }

    /// <summary>The id of a token text, if it is in the vocabulary.</summary>
    public bool TryGetId(ReadOnlySpan<char> token, out int id) => _vocabBySpan.TryGetValue(token, out id);

    /// <summary>Encodes one run of text (between added tokens), appending its ids.</summary>
    /// <param name="text">The run, as typed (spaces, not "▁").</param>
    /// <param name="startsInput">The run is the start of the input (for <see cref="SpacePrefix.FirstRun"/>).</param>
    /// <param name="output">Receives the ids.</param>
    public void Encode(ReadOnlySpan<char> text, bool startsInput, List<int> output)
    {
        if (text.IsEmpty) return;
        bool prefix = Prefix == SpacePrefix.EveryRun || (Prefix == SpacePrefix.FirstRun && startsInput);
        if (prefix && PrefixOnlyWithoutMetaspace && (text[0] == ' ' || text[0] == Metaspace)) prefix = false;
        int p = prefix ? 1 : 0;
        char[] chars = new char[text.Length + p];
        if (prefix) chars[0] = Metaspace;
        for (int i = 0; i < text.Length; i++) chars[i + p] = text[i] == ' ' ? Metaspace : text[i];

        if (!SplitWords)
        {
            EncodeWord(chars, output);
            return;
        }
        int start = 0;
        for (int i = 1; i <= chars.Length; i++)
        {
            if (i < chars.Length && chars[i] != Metaspace) continue;
            EncodeWord(chars.AsSpan(start, i - start), output);
            start = i;
        }
    }

    /// <summary>Merges one word: symbols start as the code points; the best pair merges until none can.</summary>
    private void EncodeWord(ReadOnlySpan<char> word, List<int> output)
    {
        int n = word.Length;
        if (n == 0) return;
        // Symbols by starting char index: length in chars (0 = merged away), neighbours, id (rank order only).
        var len = new int[n];
        var prev = new int[n];
        var next = new int[n];
        var ids = new int[n];
        int last = -1;
        for (int i = 0; i < n;)
        {
            int l = i + 1 < n && char.IsSurrogatePair(word[i], word[i + 1]) ? 2 : 1;
            len[i] = l;
            prev[i] = last;
            if (last >= 0) next[last] = i;
            ids[i] = _vocabBySpan.TryGetValue(word.Slice(i, l), out int id) ? id : -1;
            last = i;
            i += l;
        }
        next[last] = -1;

        // Priority (lower first): -score (score order) or rank (rank order) in the high 32 bits, as an int that sorts
        // like the float; the left position in the low 32 bits, so ties go to the leftmost pair.
        var queue = new PriorityQueue<(int Left, int Right, int Size, int Id), long>();
        void Consider(ReadOnlySpan<char> w, int left, int right)
        {
            if (left < 0 || right < 0) return;
            int size = len[left] + len[right];
            if (!_vocabBySpan.TryGetValue(w.Slice(left, size), out int merged)) return;
            float key;
            if (_scores is not null)
                key = -_scores[merged];
            else if (ids[left] >= 0 && ids[right] >= 0 && _mergeRanks!.TryGetValue(((long)ids[left] << 32) | (uint)ids[right], out int rank))
                key = rank;
            else
                return;
            if (key == 0) key = 0; // -0 and +0 are one priority
            int bits = BitConverter.SingleToInt32Bits(key);
            bits ^= (bits >> 31) & 0x7FFFFFFF; // negative floats: reverse the order of their magnitude bits
            queue.Enqueue((left, right, size, merged), ((long)bits << 32) | (uint)left);
        }
        for (int i = 0; next[i] >= 0; i = next[i]) Consider(word, i, next[i]);

        while (queue.TryDequeue(out var e, out _))
        {
            // Stale if either side has merged since: lengths only grow, so an unchanged sum means both are as queued.
            if (len[e.Left] == 0 || len[e.Right] == 0 || next[e.Left] != e.Right || len[e.Left] + len[e.Right] != e.Size)
                continue;
            len[e.Left] = e.Size;
            len[e.Right] = 0;
            ids[e.Left] = e.Id;
            int after = next[e.Right];
            next[e.Left] = after;
            if (after >= 0) prev[after] = e.Left;
            Consider(word, prev[e.Left], e.Left);
            Consider(word, e.Left, after);
        }

        Span<byte> utf8 = stackalloc byte[8];
        for (int i = 0; i >= 0; i = next[i])
        {
            var piece = word.Slice(i, len[i]);
            if (_vocabBySpan.TryGetValue(piece, out int id))
            {
                output.Add(id);
                continue;
            }
            // Not a token, so one code point (merges only make tokens): its bytes, or the unknown token.
            int count = Encoding.UTF8.GetBytes(piece, utf8);
            bool bytes = true;
            for (int k = 0; k < count; k++) bytes &= _byteIds[utf8[k]] >= 0;
            if (!bytes)
                output.Add(_unkId!.Value);
            else
                for (int k = 0; k < count; k++) output.Add(_byteIds[utf8[k]]);
        }
    }
}
