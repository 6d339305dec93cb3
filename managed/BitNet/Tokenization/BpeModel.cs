namespace BitNet.Tokenization;

/// <summary>
/// The byte-level BPE model: a vocabulary of byte-level strings and ranked merges. A word (one pre-token, as UTF-8
/// bytes) starts as one symbol per byte; the adjacent pair with the lowest merge rank is merged, leftmost first,
/// until no pair has a merge (HF tokenizers <c>Word::merge_all</c>): O(n log n) with a priority queue whose stale
/// entries are skipped when popped.
/// </summary>
internal sealed class BpeModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabBySpan;
    /// <summary>(left id &lt;&lt; 32 | right id) → (rank, merged id).</summary>
    private readonly Dictionary<long, (int Rank, int Id)> _merges;
    /// <summary>Id of the one-byte token of each byte, or -1 where the vocabulary has none (such bytes are
    /// dropped, as HF does for a BPE model without an unknown token).</summary>
    private readonly int[] _byteIds = new int[256];

    /// <summary>Creates the model.</summary>
    /// <param name="vocab">byte-level string → id.</param>
    /// <param name="merges">the merges as (left, right) byte-level strings, highest priority first.</param>
    /// <param name="ignoreMerges">a word that is itself in the vocabulary is one token, merges or not
    /// (HF <c>ignore_merges</c>, set by Llama-3).</param>
    /// <param name="fail">makes the exception for a problem in the data.</param>
    public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, bool ignoreMerges,
        Func<string, Exception> fail)
    {
        _vocab = vocab;
        _vocabBySpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        IgnoreMerges = ignoreMerges;
        for (int b = 0; b < 256; b++)
            _byteIds[b] = vocab.TryGetValue(ByteLevel.ByteToChar[b].ToString(), out int id) ? id : -1;
        _merges = new Dictionary<long, (int, int)>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            if (!vocab.TryGetValue(left, out int l))
                throw fail($"merge {rank} '{left} {right}' references '{left}', which is not in the vocabulary");
            if (!vocab.TryGetValue(right, out int r))
                throw fail($"merge {rank} '{left} {right}' references '{right}', which is not in the vocabulary");
            if (!vocab.TryGetValue(left + right, out int merged))
                throw fail($"merge {rank} '{left} {right}' makes '{left + right}', which is not in the vocabulary");
            _merges[((long)l << 32) | (uint)r] = (rank, merged); // a repeated merge keeps its last rank, as in HF
        }
    }

    /// <summary>Whether whole words found in the vocabulary skip the merges.</summary>
    public bool IgnoreMerges { get; }

    /// <summary>The merges as (left id, right id), highest priority first (for writing GGUF <c>tokenizer.ggml.merges</c>).</summary>
    public IEnumerable<(int Left, int Right)> MergesByRank() =>
        _merges.OrderBy(m => m.Value.Rank).Select(m => ((int)(m.Key >> 32), (int)(uint)m.Key));

    /// <summary>The number of merges.</summary>
    public int MergeCount => _merges.Count;

    /// <summary>The id of a byte-level string, if it is in the vocabulary.</summary>
    public bool TryGetId(ReadOnlySpan<char> byteLevel, out int id) => _vocabBySpan.TryGetValue(byteLevel, out id);

    /// <summary>Encodes one word given as UTF-8 bytes, appending its token ids.</summary>
    public void EncodeWord(ReadOnlySpan<byte> word, List<int> output)
    {
        int n = word.Length;
        if (n == 0) return;
        if (IgnoreMerges || n == 1)
        {
            Span<char> chars = n <= 256 ? stackalloc char[n] : new char[n];
            for (int i = 0; i < n; i++) chars[i] = ByteLevel.ByteToChar[word[i]];
            if (_vocabBySpan.TryGetValue(chars, out int whole))
            {
                output.Add(whole);
                return;
            }
        }

        // Symbols as a doubly linked list over the byte positions; a merged-away symbol has id Dead.
        const int Dead = int.MinValue;
        var ids = new int[n];
        var prev = new int[n];
        var next = new int[n];
        for (int i = 0; i < n; i++)
        {
            ids[i] = _byteIds[word[i]];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }

        // Priority: rank, then position (leftmost first); the element remembers the pair's ids to detect staleness.
        var queue = new PriorityQueue<(int Left, int Right, int LeftId, int RightId, int Merged), long>();
        void Consider(int left, int right)
        {
            if (left < 0 || right < 0) return;
            int a = ids[left], b = ids[right];
            if (a < 0 || b < 0) return;
            if (_merges.TryGetValue(((long)a << 32) | (uint)b, out var m))
                queue.Enqueue((left, right, a, b, m.Id), ((long)m.Rank << 32) | (uint)left);
        }
        for (int i = 0; i + 1 < n; i++) Consider(i, i + 1);

        while (queue.TryDequeue(out var e, out _))
        {
            // Stale if either side has merged since: a symbol's id only ever grows into a longer token, and
            // next[] only moves right, so equal ids and adjacency mean the pair is still there.
            if (ids[e.Left] != e.LeftId || ids[e.Right] != e.RightId || next[e.Left] != e.Right) continue;
            ids[e.Left] = e.Merged;
            ids[e.Right] = Dead;
            int after = next[e.Right];
            next[e.Left] = after;
            if (after >= 0) prev[after] = e.Left;
            Consider(prev[e.Left], e.Left);
            Consider(e.Left, after);
        }

        for (int i = 0; i >= 0; i = next[i])
            if (ids[i] >= 0) output.Add(ids[i]);
    }
}
