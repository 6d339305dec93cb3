using System.Text.Json;
using BitNet.Models;

namespace BitNet.Tokenization;

/// <summary>
/// Reads a HF tokenizers <c>tokenizer.json</c> into a <see cref="BpeTokenizer"/>: model BPE (vocab, merges as
/// "a b" strings or [a, b] pairs, ignore_merges), added_tokens, and the pre-tokenizer the file declares (ByteLevel,
/// Split, Sequence). A BPE model with <c>byte_fallback</c> is SentencePiece-style (the LLaMA-2 tokenizer.json): its
/// "▁" comes from a <c>Prepend</c> + <c>Replace</c> normalizer (legacy files) or a <c>Metaspace</c> pre-tokenizer.
/// Everything else that would change the output (other normalizers, subword prefixes) is refused rather than ignored.
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
            bool sentencePiece = Bool(model, "byte_fallback")
                || (root.TryGetProperty("pre_tokenizer", out var mp) && TypeOf(mp) == "Metaspace");
            foreach (var unsupported in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
                if (model.TryGetProperty(unsupported, out var v) && v.ValueKind == JsonValueKind.String && v.GetString()!.Length > 0)
                    throw Fail($"model.{unsupported} is not supported");
            if (!sentencePiece && root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null)
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
            BpeModel? bpe = sentencePiece ? null : new BpeModel(vocab, merges, Bool(model, "ignore_merges"), Fail);

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

            bosId ??= Find(s_bosNames);
            eosId ??= Find(s_eosNames);
            if (sentencePiece)
            {
                int? unk = null;
                if (model.TryGetProperty("unk_token", out var unkEl) && unkEl.ValueKind == JsonValueKind.String)
                    unk = Find([unkEl.GetString()!]) ?? throw Fail($"model.unk_token '{unkEl.GetString()}' is not in the vocabulary");
                var spm = ParseSentencePiece(root, vocab, merges, unk, Bool(model, "byte_fallback"), Fail);
                if (DecoderStripsSpace(root) is bool strip) spm.StripsLeadingSpace = strip;
                return new BpeTokenizer(path, spm, tokens, added, bosId, eosId);
            }

            // Pre-tokenizer.
            bool byteLevel = false;
            PreTokenizer pre = root.TryGetProperty("pre_tokenizer", out var preEl) && preEl.ValueKind != JsonValueKind.Null
                ? ParsePreTokenizer(preEl, Fail, ref byteLevel, depth: 0)
                : new WholePreTokenizer(addPrefixSpace: false);
            if (!byteLevel)
                throw Fail("the pre-tokenizer has no ByteLevel step: only byte-level BPE is supported");

            return new BpeTokenizer(path, bpe!, pre, tokens, added, bosId, eosId);

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

    /// <summary>The "▁" handling of a SentencePiece-style file: either normalizer <c>Prepend("▁")</c> (optional) with
    /// <c>Replace(" ", "▁")</c> and no pre-tokenizer (transformers' legacy Llama conversion), or no normalizer and a
    /// <c>Metaspace</c> pre-tokenizer (<c>prepend_scheme</c> always/first/never or the older <c>add_prefix_space</c>;
    /// <c>split</c>, true when absent, merges each "▁"-led word alone).</summary>
    private static SentencePieceModel ParseSentencePiece(JsonElement root, Dictionary<string, int> vocab,
        List<(string, string)> merges, int? unk, bool byteFallback, Func<string, ModelFormatException> fail)
    {
        const string Meta = "\u2581";
        bool prepend = false, replace = false;
        if (root.TryGetProperty("normalizer", out var norm) && norm.ValueKind != JsonValueKind.Null)
        {
            var steps = TypeOf(norm) == "Sequence" && norm.TryGetProperty("normalizers", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().ToList()
                : [norm];
            foreach (var step in steps)
            {
                string type = TypeOf(step);
                if (type == "Prepend" && step.TryGetProperty("prepend", out var pp) && pp.GetString() == Meta && !replace)
                    prepend = true;
                else if (type == "Replace" && step.TryGetProperty("pattern", out var pat) && pat.ValueKind == JsonValueKind.Object
                         && pat.TryGetProperty("String", out var from) && from.GetString() == " "
                         && step.TryGetProperty("content", out var to) && to.GetString() == Meta)
                    replace = true;
                else
                    throw fail($"normalizer step '{type}' is not supported in a SentencePiece-style tokenizer (Prepend \"{Meta}\", Replace \" \" with \"{Meta}\")");
            }
        }
        bool hasPre = root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind != JsonValueKind.Null;
        if (replace)
        {
            if (hasPre) throw fail($"a Replace normalizer and the pre-tokenizer '{TypeOf(pre)}' together are not supported");
            return SentencePieceModel.ByRank(vocab, merges, unk, byteFallback, prepend ? SpacePrefix.EveryRun : SpacePrefix.None,
                prefixOnlyWithoutMetaspace: false, splitWords: false, fail);
        }
        if (prepend) throw fail("a Prepend normalizer without Replace(\" \", \"\u2581\") is not supported");
        if (!hasPre || TypeOf(pre) != "Metaspace")
            throw fail($"a byte_fallback BPE needs a Metaspace pre-tokenizer or a Replace(\" \", \"{Meta}\") normalizer, not '{(hasPre ? TypeOf(pre) : "none")}'");
        if (pre.TryGetProperty("replacement", out var rep) && rep.GetString() != Meta)
            throw fail($"Metaspace replacement '{rep.GetString()}' is not supported (only \"{Meta}\")");
        SpacePrefix prefix;
        if (pre.TryGetProperty("prepend_scheme", out var scheme) && scheme.ValueKind == JsonValueKind.String)
        {
            prefix = scheme.GetString() switch
            {
                "always" => SpacePrefix.EveryRun,
                "first" => SpacePrefix.FirstRun,
                "never" => SpacePrefix.None,
                var other => throw fail($"Metaspace prepend_scheme '{other}' is unknown (always, first, never)"),
            };
        }
        else
            prefix = !pre.TryGetProperty("add_prefix_space", out var aps) || aps.ValueKind != JsonValueKind.False
                ? SpacePrefix.EveryRun : SpacePrefix.None;
        bool split = !pre.TryGetProperty("split", out var sp) || sp.ValueKind != JsonValueKind.False;
        return SentencePieceModel.ByRank(vocab, merges, unk, byteFallback, prefix, prefixOnlyWithoutMetaspace: true, split, fail);
    }

    /// <summary>Whether a SentencePiece-style file's decoder drops the space the encoder put first: a <c>Strip</c> step
    /// with <c>start</c> &gt; 0 (legacy Llama files: Replace, ByteFallback, Fuse, Strip) or a <c>Metaspace</c> decoder
    /// that prepends; null without a decoder (then it follows the encoder).</summary>
    private static bool? DecoderStripsSpace(JsonElement root)
    {
        if (!root.TryGetProperty("decoder", out var dec) || dec.ValueKind != JsonValueKind.Object) return null;
        var steps = TypeOf(dec) == "Sequence" && dec.TryGetProperty("decoders", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().ToList()
            : [dec];
        foreach (var step in steps)
        {
            switch (TypeOf(step))
            {
                case "Strip" when step.TryGetProperty("start", out var start) && start.TryGetInt32(out int n) && n > 0:
                    return true;
                case "Metaspace":
                    return step.TryGetProperty("prepend_scheme", out var scheme) && scheme.ValueKind == JsonValueKind.String
                        ? scheme.GetString() != "never"
                        : !step.TryGetProperty("add_prefix_space", out var aps) || aps.ValueKind != JsonValueKind.False;
            }
        }
        return false;
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
