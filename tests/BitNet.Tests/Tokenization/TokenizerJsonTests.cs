using System.Text.Json.Nodes;
using BitNet.Models;
using BitNet.Tokenization;

namespace BitNet.Tests.Tokenization;

/// <summary>Small tokenizer.json files written here: what the loader reads, refuses, and how BPE merges.</summary>
public sealed class TokenizerJsonTests
{
    private const string Gpt2ByteLevel = """{ "type": "ByteLevel", "add_prefix_space": false, "use_regex": true }""";

    private static readonly string Llama3Sequence = $$"""
        { "type": "Sequence", "pretokenizers": [
            { "type": "Split", "pattern": { "Regex": {{System.Text.Json.JsonSerializer.Serialize(KnownPatternMatcher.Llama3Pattern)}} },
              "behavior": "Isolated", "invert": false },
            { "type": "ByteLevel", "add_prefix_space": false, "use_regex": false } ] }
        """;

    /// <summary>A tokenizer.json with the 256 byte tokens (ids 0..255 in byte order), then <paramref name="extra"/>
    /// tokens, the merges, and &lt;|eot_id|&gt; as a special added token.</summary>
    private static JsonObject Json(string preTokenizer, string[] extra, JsonArray merges, bool ignoreMerges = false)
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteLevel.ByteToChar[b].ToString()] = b;
        foreach (string e in extra) vocab[e] = vocab.Count;
        int eot = vocab.Count;
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = eot, ["content"] = "<|eot_id|>", ["special"] = true }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = JsonNode.Parse(preTokenizer),
            ["decoder"] = JsonNode.Parse("""{ "type": "ByteLevel" }"""),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["ignore_merges"] = ignoreMerges,
                ["vocab"] = vocab,
                ["merges"] = merges.DeepClone(),
            },
        };
    }

    private static JsonArray Merges(params string[] merges) => new(merges.Select(m => (JsonNode?)JsonValue.Create(m)).ToArray());

    private static BpeTokenizer Build(JsonObject json) => BpeTokenizer.FromJson(json.ToJsonString(), "test.json");

    private static string[] Tokens(BpeTokenizer t, string text) => t.Encode(text).Select(id => t.IdToToken(id)!).ToArray();

    [Test]
    public void MergesLowestRankFirstNotLeftmostFirst()
    {
        var t = Build(Json(Gpt2ByteLevel, ["bc", "ab", "abc"], Merges("b c", "a b", "a bc")));
        Assert.That(Tokens(t, "abc"), Is.EqualTo(new[] { "abc" }));
        // with "a b" first, "ab c" is no merge: the result differs, so rank order matters
        var t2 = Build(Json(Gpt2ByteLevel, ["bc", "ab", "abc"], Merges("a b", "b c", "a bc")));
        Assert.That(Tokens(t2, "abc"), Is.EqualTo(new[] { "ab", "c" }));
        // equal pairs merge left to right: "aaa" -> "aa" "a"
        var t3 = Build(Json(Gpt2ByteLevel, ["aa"], Merges("a a")));
        Assert.That(Tokens(t3, "aaa"), Is.EqualTo(new[] { "aa", "a" }));
    }

    [Test]
    public void ReadsMergesWrittenAsPairs()
    {
        var pairs = new JsonArray(new JsonArray("b", "c"), new JsonArray("a", "bc"));
        var t = Build(Json(Gpt2ByteLevel, ["bc", "abc"], pairs));
        Assert.That(Tokens(t, "abc abc"), Is.EqualTo(new[] { "abc", "Ġ", "abc" }));
    }

    [Test]
    public void IgnoreMergesTakesWholeWordsFromTheVocabulary()
    {
        // "xyz" is in the vocabulary but no merge builds it
        Assert.That(Tokens(Build(Json(Gpt2ByteLevel, ["xyz"], Merges(), ignoreMerges: true)), "xyz"), Is.EqualTo(new[] { "xyz" }));
        Assert.That(Tokens(Build(Json(Gpt2ByteLevel, ["xyz"], Merges(), ignoreMerges: false)), "xyz"), Is.EqualTo(new[] { "x", "y", "z" }));
    }

    [Test]
    public void FollowsThePreTokenizerTheFileDeclares()
    {
        string[] extra = ["Ġ1", "12", "123", "1234", "Ġ12", "Ġ123", "Ġ1234", "'S"];
        var merges = Merges("Ġ 1", "1 2", "12 3", "123 4", "Ġ1 2", "Ġ12 3", "Ġ123 4", "' S");
        var gpt2 = Build(Json(Gpt2ByteLevel, extra, merges));
        var llama3 = Build(Json(Llama3Sequence, extra, merges));
        // GPT-2: " ?\p{N}+" keeps the space and all digits in one word; Llama-3: "\p{N}{1,3}", no space
        Assert.That(Tokens(gpt2, "a 1234"), Is.EqualTo(new[] { "a", "Ġ1234" }));
        Assert.That(Tokens(llama3, "a 1234"), Is.EqualTo(new[] { "a", "Ġ", "123", "4" }));
        // Llama-3's contractions ignore case; GPT-2's do not
        Assert.That(Tokens(gpt2, "X'S"), Is.EqualTo(new[] { "X", "'", "S" }));
        Assert.That(Tokens(llama3, "X'S"), Is.EqualTo(new[] { "X", "'S" }));
        Assert.That(Tokens(gpt2, "X's"), Is.EqualTo(new[] { "X", "'", "s" }));
    }

    [Test]
    public void AddPrefixSpacePutsASpaceBeforeEachRunOfText()
    {
        var t = Build(Json("""{ "type": "ByteLevel", "add_prefix_space": true, "use_regex": true }""", ["Ġa"], Merges("Ġ a")));
        Assert.That(Tokens(t, "a"), Is.EqualTo(new[] { "Ġa" }));
        Assert.That(Tokens(t, " a"), Is.EqualTo(new[] { "Ġa" }));
        Assert.That(t.Encode("a<|eot_id|>a", new EncodeOptions { ParseSpecial = true }).Select(id => t.IdToToken(id)),
            Is.EqualTo(new[] { "Ġa", "<|eot_id|>", "Ġa" }));
    }

    [Test]
    public void AddedTokensAreParsedOnlyWhenAsked()
    {
        var t = Build(Json(Gpt2ByteLevel, [], Merges()));
        int eot = t.TokenToId("<|eot_id|>")!.Value;
        Assert.That(t.Encode("x<|eot_id|>", new EncodeOptions { ParseSpecial = true }), Is.EqualTo(new[] { 'x', eot }));
        Assert.That(t.Encode("x<|eot_id|>"), Has.Length.EqualTo(11));
        Assert.That(t.IsSpecial(eot), Is.True);
        Assert.That(t.StopTokenIds, Is.EqualTo(new[] { eot }));
    }

    [Test]
    public void NonSpecialAddedTokensAreAlwaysParsed()
    {
        var json = Json(Gpt2ByteLevel, [], Merges());
        int id = json["model"]!["vocab"]!.AsObject().Count + 1;
        json["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = id, ["content"] = "<tool>", ["special"] = false });
        var t = Build(json);
        Assert.That(t.Encode("a<tool>b"), Is.EqualTo(new[] { 'a', id, 'b' }));
        Assert.That(t.VocabSize, Is.EqualTo(id + 1));
    }

    private static ModelFormatException Refused(JsonObject json) =>
        Assert.Throws<ModelFormatException>(() => Build(json))!;

    [Test]
    public void RefusesAFileWithoutModel()
    {
        var json = Json(Gpt2ByteLevel, [], Merges());
        json.Remove("model");
        var e = Refused(json);
        Assert.That(e.Problem, Does.Contain("missing \"model\""));
        Assert.That(e.FilePath, Is.EqualTo("test.json"));
    }

    [Test]
    public void RefusesAnUnknownPreTokenizer()
    {
        // (Metaspace makes a SentencePiece-style tokenizer: SentencePieceTokenizerTests)
        var e = Refused(Json("""{ "type": "WhitespaceSplit" }""", [], Merges()));
        Assert.That(e.Problem, Does.Contain("unknown pre-tokenizer type 'WhitespaceSplit'"));
    }

    [Test]
    public void RefusesAMergeOfAnUnknownToken()
    {
        var e = Refused(Json(Gpt2ByteLevel, ["ab"], Merges("a b", "ab zz")));
        Assert.That(e.Problem, Does.Contain("merge 1 'ab zz'").And.Contain("'zz'").And.Contain("not in the vocabulary"));
        var e2 = Refused(Json(Gpt2ByteLevel, [], Merges("a b")));
        Assert.That(e2.Problem, Does.Contain("makes 'ab'"));
        var e3 = Refused(Json(Gpt2ByteLevel, [], Merges("abc")));
        Assert.That(e3.Problem, Does.Contain("not two tokens"));
    }

    [Test]
    public void RefusesWhatItCannotReproduce()
    {
        var withNormalizer = Json(Gpt2ByteLevel, [], Merges());
        withNormalizer["normalizer"] = JsonNode.Parse("""{ "type": "NFKC" }""");
        Assert.That(Refused(withNormalizer).Problem, Does.Contain("normalizer 'NFKC'"));

        var notByteLevel = Json("""{ "type": "Split", "pattern": { "String": " " }, "behavior": "Removed" }""", [], Merges());
        Assert.That(Refused(notByteLevel).Problem, Does.Contain("no ByteLevel"));

        var badBehavior = Json("""{ "type": "Sequence", "pretokenizers": [ { "type": "Split", "pattern": { "String": " " }, "behavior": "Sideways" }, { "type": "ByteLevel", "use_regex": false } ] }""", [], Merges());
        Assert.That(Refused(badBehavior).Problem, Does.Contain("'Sideways'"));

        var wordPiece = Json(Gpt2ByteLevel, [], Merges());
        wordPiece["model"]!["type"] = "WordPiece";
        Assert.That(Refused(wordPiece).Problem, Does.Contain("WordPiece"));

        Assert.That(Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromJson("{ not json", "x.json"))!.Problem,
            Does.StartWith("not valid JSON"));
    }

    [Test]
    public void FromFileNamesThePath()
    {
        string path = Path.Combine(Path.GetTempPath(), $"bn-tok-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{ "model": { "type": "BPE", "vocab": {}, "merges": [] }, "pre_tokenizer": { "type": "Bogus" } }""");
        try
        {
            var e = Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromFile(path))!;
            Assert.That(e.FilePath, Is.EqualTo(path));
            Assert.That(e.Message, Does.StartWith(path).And.Contain("'Bogus'"));
        }
        finally
        {
            File.Delete(path);
        }
        Assert.Throws<FileNotFoundException>(() => BpeTokenizer.FromFile(path));
    }

    [Test]
    public void GgufArraysAreChecked()
    {
        string[] tokens = Enumerable.Range(0, 256).Select(b => ByteLevel.ByteToChar[b].ToString()).Append("ab").Append("<|eot_id|>").ToArray();
        int[] types = Enumerable.Repeat(1, 257).Append(3).ToArray();
        var t = BpeTokenizer.FromGguf(tokens, ["a b"], types, null, 257, "gpt2");
        Assert.That(t.Encode("ab<|eot_id|>", new EncodeOptions { ParseSpecial = true }), Is.EqualTo(new[] { 256, 257 }));
        Assert.That(Assert.Throws<InvalidOperationException>(() => t.Encode("x", new EncodeOptions { AddBos = true }))!.Message,
            Does.Contain("no BOS"));

        Assert.That(Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromGguf(tokens, [], types, 0, 1, "qwen2"))!.Problem,
            Does.Contain("'qwen2'"));
        Assert.That(Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromGguf(tokens, [], types[1..], 0, 1, "gpt2"))!.Problem,
            Does.Contain("token_type"));
        Assert.That(Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromGguf(tokens, ["a q"], null, 0, 1, "gpt2"))!.Problem,
            Does.Contain("makes 'aq'"));
        Assert.That(Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromGguf(tokens, [], null, 999, 1, "gpt2"))!.Problem,
            Does.Contain("BOS id 999"));
    }
}
