using System.Text.Json.Nodes;
using BitNet.Models;
using BitNet.Tokenization;

namespace BitNet.Tests.Tokenization;

/// <summary>
/// SentencePiece-style BPE (LLaMA-2, 1bitLLM/bitnet_b1_58-*) on a small vocabulary made here, with ids worked out by
/// hand from llama.cpp's <c>llm_tokenizer_spm</c> rules: "▁" for spaces and before the text, the adjacent pair whose
/// concatenation has the highest score merges first, characters that are no token become their UTF-8 byte tokens.
/// Optionally, <c>BITNET_LLAMA_SPM_VOCAB</c> names llama.cpp's <c>models/ggml-vocab-llama-spm.gguf</c> (not shipped
/// here) to check its .inp/.out test vectors.
/// </summary>
public sealed class SentencePieceTokenizerTests
{
    // 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then these pieces with their scores
    private static readonly (string Piece, float Score)[] s_pieces =
    [
        ("▁", 0), ("h", 0), ("e", 0), ("l", 0), ("o", 0), ("w", 0), ("r", 0), ("d", 0), // 259..266
        ("▁h", -1), ("he", -5), ("ll", -2), ("▁he", -3), ("llo", -4), ("▁hello", -6),  // 267..272
        ("▁w", -7), ("or", -8), ("▁wor", -9), ("ld", -10), ("é", 0),                      // 273..277
    ];

    private const int Unk = 0, Bos = 1, Eos = 2;
    private static int Byte(int b) => 3 + b;
    private static int Id(string piece) => 259 + Array.FindIndex(s_pieces, p => p.Piece == piece);

    private static (string[] Tokens, float[] Scores, int[] Types) Arrays()
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var scores = new List<float> { 0, 0, 0 };
        var types = new List<int> { 2, 3, 3 };
        for (int b = 0; b < 256; b++)
        {
            tokens.Add($"<0x{b:X2}>");
            scores.Add(0);
            types.Add(6);
        }
        foreach (var (piece, score) in s_pieces)
        {
            tokens.Add(piece);
            scores.Add(score);
            types.Add(1);
        }
        return (tokens.ToArray(), scores.ToArray(), types.ToArray());
    }

    private static BpeTokenizer Gguf(bool addSpacePrefix = true)
    {
        var (tokens, scores, types) = Arrays();
        return BpeTokenizer.FromGgufSentencePiece(tokens, scores, types, Bos, Eos, null, addSpacePrefix, "test.gguf");
    }

    [Test]
    public void MergesByScoreWithTheSpacePrefix()
    {
        var t = Gguf();
        Assert.Multiple(() =>
        {
            Assert.That(t.IsSentencePiece);
            // ▁h(-1), ll(-2), ▁he(-3), llo(-4), ▁hello(-6); ▁w(-7), or(-8), ▁wor(-9), ld(-10); "▁world" is no token
            Assert.That(t.Encode("hello world"), Is.EqualTo(new[] { Id("▁hello"), Id("▁wor"), Id("ld") }));
            // a leading space is a second ▁, which merges with nothing ("▁▁" is no token)
            Assert.That(t.Encode(" hello"), Is.EqualTo(new[] { Id("▁"), Id("▁hello") }));
            // without the prefix: ll(-2) beats he(-5), then llo(-4), then he; "hello" is no token
            Assert.That(Gguf(addSpacePrefix: false).Encode("hello"), Is.EqualTo(new[] { Id("he"), Id("llo") }));
            Assert.That(t.Encode(""), Is.Empty);
            Assert.That(t.Encode("hello", new EncodeOptions { AddBos = true }), Is.EqualTo(new[] { Bos, Id("▁hello") }));
        });
    }

    [Test]
    public void UnknownCharactersFallBackToBytes()
    {
        var t = Gguf();
        Assert.Multiple(() =>
        {
            // é is a piece; 🦙 (U+1F999, F0 9F A6 99) and ü (C3 BC) are not
            Assert.That(t.Encode("hé🦙"), Is.EqualTo(new[] { Id("▁h"), Id("é"), Byte(0xF0), Byte(0x9F), Byte(0xA6), Byte(0x99) }));
            Assert.That(t.Encode("ü"), Is.EqualTo(new[] { Id("▁"), Byte(0xC3), Byte(0xBC) }));
            Assert.That(t.Encode("\n"), Is.EqualTo(new[] { Id("▁"), Byte(0x0A) }));
        });
    }

    [Test]
    public void EqualScoresMergeLeftmostFirstAndUnknownWithoutByteTokens()
    {
        // no byte tokens: a character outside the vocabulary becomes <unk> (one per character)
        string[] tokens = ["<unk>", "a", "b", "c", "ab", "bc", "abc"];
        float[] scores = [0, 0, 0, 0, -1, -1, -2];
        var t = BpeTokenizer.FromGgufSentencePiece(tokens, scores, [2, 1, 1, 1, 1, 1, 1], null, null, null, addSpacePrefix: false);
        Assert.Multiple(() =>
        {
            // "ab" and "bc" tie: the leftmost pair merges, then "ab"+"c" makes "abc"
            Assert.That(t.Encode("abc"), Is.EqualTo(new[] { 6 }));
            Assert.That(t.Encode("bcab"), Is.EqualTo(new[] { 5, 4 }));
            Assert.That(t.Encode("xa🦙"), Is.EqualTo(new[] { 0, 1, 0 }));
        });
    }

    [Test]
    public void SpecialTokensAndThePrefixAfterThem()
    {
        var t = Gguf();
        Assert.Multiple(() =>
        {
            // llama.cpp puts ▁ before every run of text that follows a special token
            Assert.That(t.Encode("<s>hello</s>", new EncodeOptions { ParseSpecial = true }), Is.EqualTo(new[] { Bos, Id("▁hello"), Eos }));
            // not parsed, "<s>" is text: '<' 's' '>' are bytes, then "hello" without a ▁: he, llo
            Assert.That(t.Encode("<s>hello"), Is.EqualTo(new[] { Id("▁"), Byte('<'), Byte('s'), Byte('>'), Id("he"), Id("llo") }));
            Assert.That(t.IsSpecial(Bos) && t.IsSpecial(Unk) && !t.IsSpecial(Id("▁h")));
            Assert.That(t.StopTokenIds, Does.Contain(Eos));
        });
    }

    [TestCase("hello world")]
    [TestCase(" hello  world ")]
    [TestCase("hé🦙 ü\n\tworld")]
    [TestCase("日本語のテキスト 🦙🦙")]
    [TestCase("")]
    public void DecodeGivesTheTextBack(string text)
    {
        var t = Gguf();
        int[] ids = t.Encode(text);
        Assert.That(t.Decode(ids), Is.EqualTo(text));
        Assert.That(t.Decode([Bos, .. ids], skipSpecial: true), Is.EqualTo(text));
    }

    [Test]
    public void StreamDecoderAssemblesBytesAcrossTokens()
    {
        var t = Gguf();
        var d = t.CreateStreamDecoder();
        Assert.Multiple(() =>
        {
            Assert.That(d.Append(Id("▁h")), Is.EqualTo(" h"));
            Assert.That(d.Append(Byte(0xF0)), Is.EqualTo(""));
            Assert.That(d.Append(Byte(0x9F)), Is.EqualTo(""));
            Assert.That(d.Append(Byte(0xA6)), Is.EqualTo(""));
            Assert.That(d.Append(Byte(0x99)), Is.EqualTo("🦙"));
            Assert.That(d.Append(Id("▁wor")), Is.EqualTo(" wor"));
            Assert.That(d.Append(Byte(0xC3)), Is.EqualTo(""));
            Assert.That(d.Flush(), Is.EqualTo("\uFFFD"));
        });
    }

    /// <summary>The same vocabulary as a HF tokenizer.json: merges ranked in the order the scores give.</summary>
    private static JsonObject Json(JsonNode? normalizer, JsonNode? preTokenizer)
    {
        var (tokens, _, _) = Arrays();
        var vocab = new JsonObject();
        for (int i = 0; i < tokens.Length; i++) vocab[tokens[i]] = i;
        string[] merges = ["▁ h", "l l", "▁h e", "ll o", "h e", "▁he llo", "▁ w", "o r", "▁w or", "l d"];
        return new JsonObject
        {
            ["added_tokens"] = new JsonArray(
                new JsonObject { ["id"] = 0, ["content"] = "<unk>", ["special"] = true },
                new JsonObject { ["id"] = 1, ["content"] = "<s>", ["special"] = true },
                new JsonObject { ["id"] = 2, ["content"] = "</s>", ["special"] = true }),
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = preTokenizer,
            ["decoder"] = JsonNode.Parse("""
                { "type": "Sequence", "decoders": [
                  { "type": "Replace", "pattern": { "String": "▁" }, "content": " " }, { "type": "ByteFallback" },
                  { "type": "Fuse" }, { "type": "Strip", "content": " ", "start": 1, "stop": 0 } ] }
                """),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["unk_token"] = "<unk>", ["byte_fallback"] = true, ["fuse_unk"] = true,
                ["vocab"] = vocab, ["merges"] = new JsonArray(merges.Select(m => (JsonNode?)JsonValue.Create(m)).ToArray()),
            },
        };
    }

    private const string LegacyNormalizer = """
        { "type": "Sequence", "normalizers": [
          { "type": "Prepend", "prepend": "▁" }, { "type": "Replace", "pattern": { "String": " " }, "content": "▁" } ] }
        """;

    [Test]
    public void TokenizerJsonLegacyNormalizerMergesByRank()
    {
        var t = BpeTokenizer.FromJson(Json(JsonNode.Parse(LegacyNormalizer), null).ToJsonString(), "llama.json");
        Assert.Multiple(() =>
        {
            Assert.That(t.IsSentencePiece);
            Assert.That(t.BosId, Is.EqualTo(Bos));
            Assert.That(t.EosId, Is.EqualTo(Eos));
            Assert.That(t.Encode("hello world"), Is.EqualTo(new[] { Id("▁hello"), Id("▁wor"), Id("ld") }));
            Assert.That(t.Encode(" hello"), Is.EqualTo(new[] { Id("▁"), Id("▁hello") }));
            Assert.That(t.Encode("hé🦙"), Is.EqualTo(new[] { Id("▁h"), Id("é"), Byte(0xF0), Byte(0x9F), Byte(0xA6), Byte(0x99) }));
            // Prepend acts on every run between added tokens
            Assert.That(t.Encode("<s>hello", new EncodeOptions { ParseSpecial = true }), Is.EqualTo(new[] { Bos, Id("▁hello") }));
            Assert.That(t.Decode(t.Encode(" hé🦙 world ")), Is.EqualTo(" hé🦙 world "));
        });
        // a decoder without the Strip step keeps the "▁" the encoder put first
        var json = Json(JsonNode.Parse(LegacyNormalizer), null);
        json["decoder"] = JsonNode.Parse("""{ "type": "Sequence", "decoders": [ { "type": "ByteFallback" }, { "type": "Fuse" } ] }""");
        var keeps = BpeTokenizer.FromJson(json.ToJsonString(), "llama.json");
        Assert.That(keeps.Decode(keeps.Encode("hello")), Is.EqualTo(" hello"));
    }

    [Test]
    public void TokenizerJsonMetaspace()
    {
        var first = BpeTokenizer.FromJson(Json(null, JsonNode.Parse("""
            { "type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false }
            """)).ToJsonString(), "llama.json");
        var always = BpeTokenizer.FromJson(Json(null, JsonNode.Parse("""
            { "type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true }
            """)).ToJsonString(), "llama.json");
        Assert.Multiple(() =>
        {
            Assert.That(first.Encode("hello world"), Is.EqualTo(new[] { Id("▁hello"), Id("▁wor"), Id("ld") }));
            // Metaspace adds no second ▁ to text that starts with a space
            Assert.That(first.Encode(" hello"), Is.EqualTo(new[] { Id("▁hello") }));
            // "first": only the run at the start of the input gets the ▁
            Assert.That(first.Encode("<s>hello", new EncodeOptions { ParseSpecial = true }), Is.EqualTo(new[] { Bos, Id("he"), Id("llo") }));
            Assert.That(always.Encode("<s>hello", new EncodeOptions { ParseSpecial = true }), Is.EqualTo(new[] { Bos, Id("▁hello") }));
            // split: each ▁-word alone ("ld" still merges inside "▁world")
            Assert.That(always.Encode("hello world"), Is.EqualTo(new[] { Id("▁hello"), Id("▁wor"), Id("ld") }));
        });
    }

    [Test]
    public void BadSentencePieceFilesAreRefused()
    {
        var noSpace = Json(null, null);
        Assert.That(Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromJson(noSpace.ToJsonString(), "x.json"))!.Problem,
            Does.Contain("Metaspace"));
        var badNorm = Json(JsonNode.Parse("""{ "type": "NFKC" }"""), null);
        Assert.That(Assert.Throws<ModelFormatException>(() => BpeTokenizer.FromJson(badNorm.ToJsonString(), "x.json"))!.Problem,
            Does.Contain("NFKC"));
        var (tokens, scores, types) = Arrays();
        Assert.That(Assert.Throws<ModelFormatException>(() =>
            BpeTokenizer.FromGgufSentencePiece(tokens, scores[1..], types, Bos, Eos, null, true))!.Problem, Does.Contain("scores"));
        // no byte tokens and no unknown token: an unknown character could not be written
        string[] bare = ["a", "b"];
        Assert.That(Assert.Throws<ModelFormatException>(() =>
            BpeTokenizer.FromGgufSentencePiece(bare, [0f, 0f], [1, 1], null, null, null, true))!.Problem, Does.Contain("unknown token"));
    }

    [Test]
    public void GgufFileWithLlamaTokenizerAndChatTemplate()
    {
        var (tokens, scores, types) = Arrays();
        var w = new GgufWriter();
        w.SetString(GgufKeys.TokenizerModel, "llama");
        w.SetStringArray(GgufKeys.Tokens, tokens);
        w.SetArray<float>(GgufKeys.Scores, scores);
        w.SetArray<int>(GgufKeys.TokenTypes, types);
        w.SetUInt32(GgufKeys.BosTokenId, Bos);
        w.SetUInt32(GgufKeys.EosTokenId, Eos);
        w.SetBoolean(GgufKeys.AddSpacePrefix, true);
        w.SetBoolean(GgufKeys.AddBosToken, false);
        w.SetString(GgufKeys.ChatTemplate, "{{ bos_token }}{% for m in messages %}[{{ m.content }}]{% endfor %}");
        string path = Path.Combine(Path.GetTempPath(), $"spm-{Guid.NewGuid():N}.gguf");
        try
        {
            w.Save(path);
            var t = BitNetModelFile.OpenTokenizer(path);
            Assert.Multiple(() =>
            {
                Assert.That(t.IsSentencePiece);
                Assert.That(t.Encode("hello world"), Is.EqualTo(new[] { Id("▁hello"), Id("▁wor"), Id("ld") }));
                var template = ChatTemplate.For(t);
                Assert.That(template.IsFallback, Is.False);
                Assert.That(template.Render([new ChatMessage(ChatRole.User, "hello")]), Is.EqualTo("<s>[hello]"));
                Assert.That(template.EncodeConversation(t, [new ChatMessage(ChatRole.User, "hello")]),
                    Is.EqualTo(new[] { Bos, Id("▁"), Byte('['), Id("he"), Id("llo"), Byte(']') }));
                Assert.That(t.AddsBos, Is.False, "tokenizer.ggml.add_bos_token false");
                // the template writes no BOS of its own and the file asks for none: no BOS is added
                Assert.That(ChatTemplate.FromJinja("{{ messages[0].content }}", "<s>", "</s>").EncodeConversation(t, [new ChatMessage(ChatRole.User, "hello")]),
                    Is.EqualTo(new[] { Id("▁hello") }));
            });
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void GgufArraysGiveTheSameTokenizer()
    {
        string[] texts = ["hello world", " hello  world ", "hé🦙 ü\n", "<s>hello</s>", "wor ld hel lo"];
        var fromJson = BpeTokenizer.FromJson(Json(JsonNode.Parse(LegacyNormalizer), null).ToJsonString(), "llama.json");
        foreach (var original in new[] { Gguf(), fromJson })
        {
            var a = original.ToGgufSentencePiece();
            var copy = BpeTokenizer.FromGgufSentencePiece(a.Tokens, a.Scores, a.TokenTypes, original.BosId, original.EosId, a.UnknownId, a.AddSpacePrefix);
            Assert.That(a.TokenTypes[..4], Is.EqualTo(new[] { 2, 3, 3, 6 }), "unknown, control, control, byte");
            Assert.That(a.TokenTypes[Id("▁h")], Is.EqualTo(1));
            foreach (string text in texts)
            {
                var options = new EncodeOptions { ParseSpecial = true };
                Assert.That(copy.Encode(text, options), Is.EqualTo(original.Encode(text, options)), text);
            }
        }
        // ranks become scores: the first merge (▁ h) scores highest
        var scores = fromJson.ToGgufSentencePiece().Scores;
        Assert.That(scores[Id("▁h")], Is.GreaterThan(scores[Id("ll")]));
        Assert.That(scores[Id("ll")], Is.GreaterThan(scores[Id("ld")]));
    }

    [Test]
    public void ModelFolderConvertsToGgufWithTheTokenizerAndChatTemplate()
    {
        // the tiny fixture's weights (512 embedding rows) with this SentencePiece tokenizer (278 tokens) and a template
        string dir = Path.Combine(Path.GetTempPath(), $"spm-model-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string fixture = RepositoryPaths.Fixture("bitnet-tiny", "master");
            foreach (string f in new[] { "config.json", "model.safetensors" }) File.Copy(Path.Combine(fixture, f), Path.Combine(dir, f));
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), Json(JsonNode.Parse(LegacyNormalizer), null).ToJsonString());
            const string Template = "{% for m in messages %}[{{ m.role }}] {{ m.content }};{% endfor %}";
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), new JsonObject { ["chat_template"] = Template }.ToJsonString());
            string gguf = Path.Combine(dir, "model.gguf");
            using (var model = BitNetModelFile.Open(dir))
            {
                Assert.That(model.Tokenizer!.ChatTemplateSource, Is.EqualTo(Template));
                GgufModelWriter.Write(model, gguf);
            }
            var original = BitNetModelFile.OpenTokenizer(dir);
            var back = BitNetModelFile.OpenTokenizer(gguf);
            Assert.Multiple(() =>
            {
                Assert.That(back.IsSentencePiece);
                Assert.That(back.VocabSize, Is.EqualTo(512), "padded to the embedding's rows, as llama.cpp needs");
                Assert.That(back.ChatTemplateSource, Is.EqualTo(Template));
                foreach (string text in new[] { "hello world", " hé🦙 ü", "<s>hello</s>" })
                {
                    var options = new EncodeOptions { ParseSpecial = true };
                    Assert.That(back.Encode(text, options), Is.EqualTo(original.Encode(text, options)), text);
                }
                Assert.That(ChatTemplate.For(back).Render([new ChatMessage(ChatRole.User, "hi")]), Is.EqualTo("[user] hi;"));
            });
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>llama.cpp's own test vectors for the LLaMA SentencePiece vocabulary, when a local copy is named by
    /// <c>BITNET_LLAMA_SPM_VOCAB</c> (the .gguf, with .inp and .out beside it).</summary>
    [Test]
    public void LlamaCppVocabularyTestVectors()
    {
        string? path = Environment.GetEnvironmentVariable("BITNET_LLAMA_SPM_VOCAB");
        if (string.IsNullOrEmpty(path) || !File.Exists(path)) Assert.Ignore("BITNET_LLAMA_SPM_VOCAB is not set");
        var t = BitNetModelFile.OpenTokenizer(path!);
        string[] inputs = File.ReadAllText(path + ".inp").Split("\n__ggml_vocab_test__\n");
        string[] outputs = File.ReadAllLines(path + ".out");
        Assert.That(inputs.Length - 1, Is.EqualTo(outputs.Length)); // the .inp ends with a separator
        int failed = 0;
        for (int i = 0; i < outputs.Length; i++)
        {
            int[] expected = outputs[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            int[] ids = t.Encode(inputs[i]);
            if (!ids.SequenceEqual(expected))
            {
                failed++;
                TestContext.Out.WriteLine($"#{i} {inputs[i]}: expected {string.Join(' ', expected)}, got {string.Join(' ', ids)}");
            }
            Assert.That(t.Decode(ids), Is.EqualTo(inputs[i]), $"round trip of #{i}");
        }
        TestContext.Out.WriteLine($"{outputs.Length - failed}/{outputs.Length} llama.cpp vectors equal");
        string big = string.Concat(Enumerable.Repeat(string.Join(" ", inputs), 200));
        t.Encode(big); // warm up the JIT
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int count = t.Encode(big).Length;
        TestContext.Out.WriteLine($"{big.Length / 1e6:F2} M chars -> {count} tokens in {clock.Elapsed.TotalMilliseconds:F0} ms");
        Assert.That(failed, Is.Zero);
    }
}
