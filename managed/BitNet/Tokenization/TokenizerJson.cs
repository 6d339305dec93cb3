using System.Text.Json;
using BitNet.Models;

namespace BitNet.Tokenization;

/// <summary>
/// Reads a HF tokenizers <c>tokenizer.json</c> into a <see cref="BpeTokenizer"/>: model BPE (vocab, merges as
/// "a b" strings or [a, b] pairs, ignore_merges), added_tokens, and the pre-tokenizer the file declares (ByteLevel,
/// Split, Sequence). Everything else that would change the output (a normalizer, byte fallback, subword
/// prefixes) is refused rather than ignored.
/// </summary>
internal static class TokenizerJson
{
    private static readonly string[] s_bosNames = ["<|begin_of_text|>", "<s>", "<|startoftext|>"];
    private static readonly string[] s_eosNames = ["<|end_of_text|>", "</s>", "<|endoftext|>"];

    public static BpeTokenizer Parse(byte[] utf8, string path, int? bosId, int? eosId)
    {
        ModelFormatException Fail(string problem) => new(path, problem);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Fail("the top level is not a JSON object");
            if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
                throw Fail("missing \"model\"");
            if (model.TryGetProperty("type", out var type) && type.GetString() != "BPE")
                throw Fail($"model type '{type}' is not supported (only BPE)");
            if (Bool(model, "byte_fallback")) throw Fail("model.byte_fallback is not supported");
            foreach (var unsupported in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
                if (model.TryGetProperty(unsupported, out var v) && v.ValueKind == JsonValueKind.String && v.GetString()!.Length > 0)
                    throw Fail($"model.{unsupported} is not supported");
            if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null)
                throw Fail($"normalizer '{TypeOf(normalizer)}' is not supported (byte-level BPE files have none)");

            // Vocabulary.
            if (!model.TryGetProperty("vocab", out var vocabEl) || vocabEl.ValueKind != JsonValueKind.Object)
                throw Fail("missing \"model.vocab\"");
            var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
            int maxId = -1;
            foreach (var entry in vocabEl.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                    throw Fail($"vocab entry '{entry.Name}' has an invalid id {entry.Value}");
                if (!vocab.TryAdd(entry.Name, id)) throw Fail($"vocab entry '{entry.Name}' appears twice");
                maxId = Math.Max(maxId, id);
            }

            // Merges.
            if (!model.TryGetProperty("merges", out var mergesEl) || mergesEl.ValueKind != JsonValueKind.Array)
                throw Fail("missing \"model.merges\"");
            var merges = new List<(string, string)>(mergesEl.GetArrayLength());
            foreach (var m in mergesEl.EnumerateArray())
            {
                int index = merges.Count;
                if (m.ValueKind == JsonValueKind.String)
                    merges.Add(BpeTokenizer.SplitMerge(m.GetString()!, index, Fail));
                else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2
                         && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
                    merges.Add((m[0].GetString()!, m[1].GetString()!));
                else
                    throw Fail($"merge {index} is neither \"a b\" nor [\"a\", \"b\"]: {m}");
            }
            var bpe = new BpeModel(vocab, merges, Bool(model, "ignore_merges"), Fail);

            // Added tokens.
            var added = new List<AddedToken>();
            if (root.TryGetProperty("added_tokens", out var addedEl) && addedEl.ValueKind == JsonValueKind.Array)
            {
                foreach (var a in addedEl.EnumerateArray())
                {
                    if (a.ValueKind != JsonValueKind.Object
                        || !a.TryGetProperty("id", out var idEl) || !idEl.TryGetInt32(out int id) || id < 0
                        || !a.TryGetProperty("content", out var contentEl) || contentEl.ValueKind != JsonValueKind.String)
                        throw Fail($"added token {a} lacks an id or content");
                    added.Add(new AddedToken(id, contentEl.GetString()!, Bool(a, "special")));
                    maxId = Math.Max(maxId, id);
                }
            }

            var tokens = new string?[maxId + 1];
            foreach (var (text, id) in vocab) tokens[id] = text;
            foreach (var a in added)
            {
                if (tokens[a.Id] is { } existing && existing != a.Content && !vocab.ContainsKey(a.Content))
                    throw Fail($"added token '{a.Content}' has id {a.Id}, which the vocabulary gives to '{existing}'");
                tokens[a.Id] = a.Content;
            }

            // Pre-tokenizer.
            bool byteLevel = false;
            PreTokenizer pre = root.TryGetProperty("pre_tokenizer", out var preEl) && preEl.ValueKind != JsonValueKind.Null
                ? ParsePreTokenizer(preEl, Fail, ref byteLevel, depth: 0)
                : new WholePreTokenizer(addPrefixSpace: false);
            if (!byteLevel)
                throw Fail("the pre-tokenizer has no ByteLevel step: only byte-level BPE is supported");

            bosId ??= Find(s_bosNames);
            eosId ??= Find(s_eosNames);
            return new BpeTokenizer(path, bpe, pre, tokens, added, bosId, eosId);

            int? Find(string[] names)
            {
                foreach (var name in names)
                {
                    foreach (var a in added)
                        if (a.Content == name) return a.Id;
                    if (vocab.TryGetValue(name, out int id)) return id;
                }
                return null;
            }
        }
    }

    private static PreTokenizer ParsePreTokenizer(JsonElement el, Func<string, ModelFormatException> fail,
        ref bool byteLevel, int depth)
    {
        if (el.ValueKind != JsonValueKind.Object) throw fail($"pre-tokenizer is not an object: {el}");
        string type = TypeOf(el);
        switch (type)
        {
            case "ByteLevel":
            {
                byteLevel = true;
                bool prefix = Bool(el, "add_prefix_space");
                if (depth > 1 && prefix)
                    throw fail("ByteLevel with add_prefix_space inside a Sequence is not supported");
                bool useRegex = !el.TryGetProperty("use_regex", out var ur) || ur.ValueKind != JsonValueKind.False;
                return useRegex
                    ? new SplitPreTokenizer(KnownPatternMatcher.Gpt2, SplitBehavior.Isolated, invert: false, prefix)
                    : new WholePreTokenizer(prefix);
            }
            case "Split":
            {
                if (!el.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.Object)
                    throw fail("Split pre-tokenizer without a pattern");
                SplitMatcher matcher;
                if (pattern.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String)
                {
                    string r = regex.GetString()!;
                    try
                    {
                        matcher = (SplitMatcher?)KnownPatternMatcher.For(r) ?? new DotNetRegexMatcher(r);
                    }
                    catch (ArgumentException e)
                    {
                        throw fail($"Split pattern /{r}/ is not a regex .NET can run: {e.Message}");
                    }
                }
                else if (pattern.TryGetProperty("String", out var literal) && literal.ValueKind == JsonValueKind.String)
                    matcher = new LiteralMatcher(literal.GetString()!);
                else
                    throw fail($"Split pattern {pattern} is neither Regex nor String");
                string behaviorName = el.TryGetProperty("behavior", out var b) ? b.GetString() ?? "" : "";
                if (!Enum.TryParse<SplitBehavior>(behaviorName, ignoreCase: false, out var behavior)
                    || !Enum.IsDefined(behavior) || behaviorName.Any(char.IsDigit))
                    throw fail($"Split behavior '{behaviorName}' is unknown");
                return new SplitPreTokenizer(matcher, behavior, Bool(el, "invert"));
            }
            case "Sequence":
            {
                if (!el.TryGetProperty("pretokenizers", out var list) || list.ValueKind != JsonValueKind.Array)
                    throw fail("Sequence pre-tokenizer without \"pretokenizers\"");
                var steps = new List<PreTokenizer>();
                foreach (var step in list.EnumerateArray())
                {
                    // add_prefix_space is only supported on a first step, where it acts on the whole text.
                    steps.Add(ParsePreTokenizer(step, fail, ref byteLevel, steps.Count == 0 ? depth : depth + 2));
                }
                return new SequencePreTokenizer(steps);
            }
            default:
                throw fail($"unknown pre-tokenizer type '{type}' (supported: ByteLevel, Split, Sequence)");
        }
    }

    private static string TypeOf(JsonElement el) =>
        el.ValueKind == JsonValueKind.Object && el.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
            ? t.GetString()!
            : "(no type)";

    private static bool Bool(JsonElement el, string name) =>
        el.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
}
