using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace BitNet.Tokenization;

/// <summary>Which regex cuts text into words before BPE (the two that <see cref="KnownPatternMatcher"/> runs).</summary>
public enum BpePreTokenizer
{
    /// <summary>Llama-3's pattern (digits in groups of up to three, punctuation keeps trailing line breaks); written as a
    /// Sequence of Split(regex) and ByteLevel(use_regex: false), as Llama-3's tokenizer.json does.</summary>
    Llama3,
    /// <summary>GPT-2's pattern; written as ByteLevel(use_regex: true).</summary>
    Gpt2,
}

/// <summary>How <see cref="BpeTrainer"/> builds a vocabulary.</summary>
public sealed record BpeTrainerOptions
{
    /// <summary>Token ids in all: the special tokens, the 256 byte tokens and one token per new merge result.</summary>
    public int VocabSize { get; init; } = 4096;

    /// <summary>A pair is merged only if it occurs at least this often (weighted by word frequency); training stops
    /// early, with a smaller vocabulary, when no pair does.</summary>
    public int MinFrequency { get; init; } = 2;

    /// <summary>The word-splitting regex.</summary>
    public BpePreTokenizer PreTokenizer { get; init; } = BpePreTokenizer.Llama3;

    /// <summary>Special tokens, given ids 0, 1, ... in this order; the first is the BOS token and the second the EOS token
    /// (as <see cref="BpeTokenizer.FromFile"/> finds them by name).</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = ["<|begin_of_text|>", "<|end_of_text|>"];
}

/// <summary>
/// Trains a byte-level BPE vocabulary (GPT-2 / Llama-3 style, as HF tokenizers' <c>BpeTrainer</c> does) and writes it as a
/// HF <c>tokenizer.json</c> that <see cref="BpeTokenizer.FromFile"/> reads back.
/// <para>Ids: the special tokens first, then the 256 byte tokens in order of their byte-level character (as HF sorts
/// its initial alphabet), then one id per new token in merge order. Training: the text is cut into words by the
/// pre-tokenizer and the distinct words counted; every word starts as its UTF-8 bytes; then repeatedly the adjacent
/// pair with the highest count (summed over word occurrences) becomes a merge. Ties go to the pair whose
/// (left, right) byte-level spellings are smallest in ordinal order, so the result depends only on the text. After a
/// merge only the words that held the pair are rescanned, and the pair counts change by their difference (the pair →
/// words index makes that O(affected words), not O(corpus)); a heap with lazily refreshed counts finds the best pair.</para>
/// </summary>
/// <example><code>
/// var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 4096 });
/// trainer.AddText(File.ReadAllText("kjv.txt"));
/// trainer.Train().Save("tokenizer.json");
/// var tokenizer = BpeTokenizer.FromFile("tokenizer.json");
/// </code></example>
public sealed class BpeTrainer
{
    private readonly BpeTrainerOptions _options;
    private readonly PreTokenizer _preTokenizer;
    private readonly Dictionary<string, long> _wordCounts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> _wordCountsBySpan;

    /// <summary>Creates a trainer.</summary>
    /// <exception cref="ArgumentException">The vocabulary cannot hold the special and byte tokens, or a special token is
    /// empty or repeated.</exception>
    public BpeTrainer(BpeTrainerOptions? options = null)
    {
        _options = options ?? new BpeTrainerOptions();
        var specials = _options.SpecialTokens;
        if (specials.Any(string.IsNullOrEmpty)) throw new ArgumentException("special tokens must not be empty", nameof(options));
        if (specials.Distinct(StringComparer.Ordinal).Count() != specials.Count)
            throw new ArgumentException("special tokens must be distinct", nameof(options));
        if (_options.VocabSize < specials.Count + 256)
            throw new ArgumentException($"VocabSize {_options.VocabSize} is below the {specials.Count} special + 256 byte tokens", nameof(options));
        if (_options.MinFrequency < 1) throw new ArgumentException("MinFrequency must be at least 1", nameof(options));
        _preTokenizer = new SplitPreTokenizer(
            _options.PreTokenizer == BpePreTokenizer.Gpt2 ? KnownPatternMatcher.Gpt2 : KnownPatternMatcher.Llama3,
            SplitBehavior.Isolated, invert: false);
        _wordCountsBySpan = _wordCounts.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Distinct words counted so far.</summary>
    public int DistinctWords => _wordCounts.Count;

    /// <summary>Counts the words of <paramref name="text"/> (one document; special-token text in it is plain text, as
    /// <see cref="BpeTokenizer.Encode(string, EncodeOptions?)"/> treats it by default).</summary>
    public void AddText(ReadOnlySpan<char> text)
    {
        var pieces = new List<Piece>();
        _preTokenizer.Split(text, 0, pieces);
        foreach (var p in pieces)
        {
            var word = text.Slice(p.Start, p.Length);
            if (_wordCountsBySpan.TryGetValue(word, out long n)) _wordCountsBySpan[word] = n + 1;
            else _wordCounts.Add(word.ToString(), 1);
        }
    }

    /// <summary>Counts the words of a UTF-8 text file.</summary>
    public void AddFile(string path) => AddText(File.ReadAllText(path, Encoding.UTF8));

    /// <summary>Learns merges until the vocabulary has <see cref="BpeTrainerOptions.VocabSize"/> ids or no pair occurs
    /// <see cref="BpeTrainerOptions.MinFrequency"/> times.</summary>
    public TrainedBpe Train()
    {
        // Token table: specials, then the byte alphabet in character order.
        var tokens = new List<string>(_options.VocabSize);
        tokens.AddRange(_options.SpecialTokens);
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++) ids[tokens[i]] = i;
        var byteId = new int[256];
        foreach (int b in Enumerable.Range(0, 256).OrderBy(b => ByteLevel.ByteToChar[b]))
        {
            string s = ByteLevel.ByteToChar[b].ToString();
            if (!ids.TryAdd(s, tokens.Count))
                throw new InvalidOperationException($"special token '{s}' is also a byte token");
            byteId[b] = tokens.Count;
            tokens.Add(s);
        }

        // Distinct words as symbol arrays, in ordinal order of the word (so nothing depends on hash order).
        var words = _wordCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToArray();
        var symbols = new int[words.Length][];
        var lengths = new int[words.Length];
        var freq = new long[words.Length];
        for (int w = 0; w < words.Length; w++)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(words[w].Key);
            symbols[w] = new int[bytes.Length];
            for (int i = 0; i < bytes.Length; i++) symbols[w][i] = byteId[bytes[i]];
            lengths[w] = bytes.Length;
            freq[w] = words[w].Value;
        }

        // Pair counts and where each pair occurs.
        var counts = new Dictionary<long, long>();
        var where = new Dictionary<long, List<int>>();
        for (int w = 0; w < symbols.Length; w++)
        {
            var s = symbols[w];
            for (int i = 0; i + 1 < lengths[w]; i++)
            {
                long key = Key(s[i], s[i + 1]);
                counts[key] = counts.GetValueOrDefault(key) + freq[w];
                AddWhere(where, key, w);
            }
        }

        var order = new PairOrder(tokens);
        var heap = new PriorityQueue<long, (long Count, long Key)>(order);
        foreach (var (key, count) in counts) heap.Enqueue(key, (count, key));

        var merges = new List<(int Left, int Right)>();
        var before = new Dictionary<long, long>();
        while (tokens.Count < _options.VocabSize && heap.TryDequeue(out long best, out var priority))
        {
            long actual = counts.GetValueOrDefault(best);
            if (actual != priority.Count)
            {
                // Counts only fall for pairs of existing tokens (a merge makes pairs with the new token instead), so a
                // stale entry overstates: requeue it with the true count and look again.
                if (actual > 0) heap.Enqueue(best, (actual, best));
                continue;
            }
            if (actual < _options.MinFrequency) break;

            int left = (int)(best >> 32), right = (int)(uint)best;
            string merged = tokens[left] + tokens[right];
            if (!ids.TryGetValue(merged, out int newId))
            {
                newId = tokens.Count;
                tokens.Add(merged);
                ids[merged] = newId;
            }
            merges.Add((left, right));

            // Rescan the words that may hold the pair; apply the difference of their pair counts.
            List<int> affected = where[best];
            where.Remove(best);
            var changed = new HashSet<long>();
            int lastWord = -1;
            foreach (int w in affected)
            {
                if (w == lastWord) continue;
                lastWord = w;
                var s = symbols[w];
                int n = lengths[w];
                bool holds = false;
                for (int i = 0; i + 1 < n && !holds; i++) holds = s[i] == left && s[i + 1] == right;
                if (!holds) continue;

                before.Clear();
                for (int i = 0; i + 1 < n; i++)
                {
                    long k = Key(s[i], s[i + 1]);
                    before[k] = before.GetValueOrDefault(k) + 1;
                }
                // Merge left to right, non-overlapping (as BpeModel applies a merge to a word).
                int o = 0;
                for (int i = 0; i < n; i++)
                {
                    if (i + 1 < n && s[i] == left && s[i + 1] == right)
                    {
                        s[o++] = newId;
                        i++;
                    }
                    else s[o++] = s[i];
                }
                lengths[w] = n = o;
                for (int i = 0; i + 1 < n; i++)
                {
                    long k = Key(s[i], s[i + 1]);
                    if (before.TryGetValue(k, out long c) && c > 0) before[k] = c - 1;
                    else
                    {
                        // A pair the word did not hold before: count it and index the word under it.
                        counts[k] = counts.GetValueOrDefault(k) + freq[w];
                        AddWhere(where, k, w);
                        changed.Add(k);
                    }
                }
                foreach (var (k, gone) in before)
                {
                    if (gone == 0) continue;
                    long c = counts[k] - gone * freq[w];
                    if (c == 0) counts.Remove(k);
                    else counts[k] = c;
                }
            }
            counts.Remove(best);
            foreach (long k in changed)
                if (counts.TryGetValue(k, out long c)) heap.Enqueue(k, (c, k));
        }

        var mergeStrings = merges.Select(m => (tokens[m.Left], tokens[m.Right])).ToArray();
        return new TrainedBpe(tokens.ToArray(), mergeStrings, _options.SpecialTokens.ToArray(), _options.PreTokenizer);
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    private static void AddWhere(Dictionary<long, List<int>> where, long key, int word)
    {
        if (!where.TryGetValue(key, out var list)) where[key] = list = [];
        // Skips the common repeat (the same word recording the pair again). Other repeats are harmless: a word rescanned
        // a second time no longer holds the merged pair and is skipped.
        if (list.Count == 0 || list[^1] != word) list.Add(word);
    }

    /// <summary>Heap order: higher count first, then the smaller (left, right) spelling.</summary>
    private sealed class PairOrder(List<string> tokens) : IComparer<(long Count, long Key)>
    {
        public int Compare((long Count, long Key) x, (long Count, long Key) y)
        {
            if (x.Count != y.Count) return y.Count.CompareTo(x.Count);
            if (x.Key == y.Key) return 0;
            int c = string.CompareOrdinal(tokens[(int)(x.Key >> 32)], tokens[(int)(y.Key >> 32)]);
            return c != 0 ? c : string.CompareOrdinal(tokens[(int)(uint)x.Key], tokens[(int)(uint)y.Key]);
        }
    }
}

/// <summary>A vocabulary learned by <see cref="BpeTrainer"/>: tokens by id (byte-level spellings; special tokens as
/// their text) and the merges in rank order.</summary>
public sealed class TrainedBpe
{
    internal TrainedBpe(string[] tokens, (string Left, string Right)[] merges, string[] specialTokens, BpePreTokenizer preTokenizer)
    {
        Tokens = tokens;
        Merges = merges;
        SpecialTokens = specialTokens;
        PreTokenizer = preTokenizer;
    }

    /// <summary>Every token by id.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>The merges, highest priority first.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges { get; }

    /// <summary>The special tokens (ids 0 .. count-1).</summary>
    public IReadOnlyList<string> SpecialTokens { get; }

    /// <summary>The word-splitting regex.</summary>
    public BpePreTokenizer PreTokenizer { get; }

    /// <summary>The vocabulary size (ids 0 .. VocabSize-1).</summary>
    public int VocabSize => Tokens.Count;

    /// <summary>The HF <c>tokenizer.json</c> text (UTF-8).</summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("version", "1.0");
            json.WriteNull("truncation");
            json.WriteNull("padding");
            json.WriteStartArray("added_tokens");
            for (int i = 0; i < SpecialTokens.Count; i++)
            {
                json.WriteStartObject();
                json.WriteNumber("id", i);
                json.WriteString("content", SpecialTokens[i]);
                json.WriteBoolean("single_word", false);
                json.WriteBoolean("lstrip", false);
                json.WriteBoolean("rstrip", false);
                json.WriteBoolean("normalized", false);
                json.WriteBoolean("special", true);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteNull("normalizer");
            json.WritePropertyName("pre_tokenizer");
            if (PreTokenizer == BpePreTokenizer.Gpt2) WriteByteLevel(json, useRegex: true);
            else
            {
                json.WriteStartObject();
                json.WriteString("type", "Sequence");
                json.WriteStartArray("pretokenizers");
                json.WriteStartObject();
                json.WriteString("type", "Split");
                json.WriteStartObject("pattern");
                json.WriteString("Regex", KnownPatternMatcher.Llama3Pattern);
                json.WriteEndObject();
                json.WriteString("behavior", "Isolated");
                json.WriteBoolean("invert", false);
                json.WriteEndObject();
                WriteByteLevel(json, useRegex: false);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteNull("post_processor");
            json.WritePropertyName("decoder");
            WriteByteLevel(json, useRegex: true);
            json.WriteStartObject("model");
            json.WriteString("type", "BPE");
            json.WriteNull("dropout");
            json.WriteNull("unk_token");
            json.WriteNull("continuing_subword_prefix");
            json.WriteNull("end_of_word_suffix");
            json.WriteBoolean("fuse_unk", false);
            json.WriteBoolean("byte_fallback", false);
            json.WriteBoolean("ignore_merges", false);
            json.WriteStartObject("vocab");
            for (int id = 0; id < Tokens.Count; id++) json.WriteNumber(Tokens[id], id);
            json.WriteEndObject();
            json.WriteStartArray("merges");
            // "left right": byte-level spellings never hold a space (the space byte is 'Ġ').
            foreach (var (l, r) in Merges) json.WriteStringValue($"{l} {r}");
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.ToArray();

        static void WriteByteLevel(Utf8JsonWriter json, bool useRegex)
        {
            json.WriteStartObject();
            json.WriteString("type", "ByteLevel");
            json.WriteBoolean("add_prefix_space", false);
            json.WriteBoolean("trim_offsets", true);
            json.WriteBoolean("use_regex", useRegex);
            json.WriteEndObject();
        }
    }

    /// <summary>Writes <c>tokenizer.json</c> to <paramref name="path"/> (under a temporary name, then renamed).</summary>
    public void Save(string path)
    {
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp-" + Environment.ProcessId;
        try
        {
            File.WriteAllBytes(temp, ToJson());
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>The tokenizer this vocabulary makes.</summary>
    public BpeTokenizer ToTokenizer() => BpeTokenizer.FromJson(Encoding.UTF8.GetString(ToJson()), "trained tokenizer.json");
}
