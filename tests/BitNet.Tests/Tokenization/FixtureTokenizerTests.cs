using System.Runtime.InteropServices;
using BitNet.Models;
using BitNet.Tokenization;

namespace BitNet.Tests.Tokenization;

/// <summary>The bitnet-tiny fixture's tokenizer.json: a small byte-level BPE whose pre-tokenizer is ByteLevel with
/// GPT-2's regex, special tokens &lt;|begin_of_text|&gt; = 0 and &lt;|end_of_text|&gt; = 1 in the vocabulary.</summary>
public sealed class FixtureTokenizerTests
{
    private static BpeTokenizer Load() =>
        BpeTokenizer.FromFile(RepositoryPaths.Fixture("bitnet-tiny", "master", "tokenizer.json"));

    [Test]
    public void ReproducesTheReferenceInputIds()
    {
        var tokenizer = Load();
        using var reference = SafetensorsFile.Open(RepositoryPaths.Fixture("bitnet-tiny", "reference-master.safetensors"));
        string text = reference.Metadata["text"];
        var info = reference["input_ids"];
        Assert.That(info.DType, Is.EqualTo(DType.I32));
        int[] expected = MemoryMarshal.Cast<byte, int>(reference.GetBytes(info)).ToArray();
        Assert.That(info.Shape, Is.EqualTo(new long[] { 1, expected.Length }));

        int[] ids = tokenizer.Encode(text, new EncodeOptions { AddBos = true });
        Assert.That(ids, Is.EqualTo(expected));
        Assert.That(tokenizer.Decode(ids, skipSpecial: true), Is.EqualTo(text));
    }

    [Test]
    public void ReadsTheFixturesVocabulary()
    {
        var tokenizer = Load();
        Assert.Multiple(() =>
        {
            // 510 token ids; the model's embedding has 512 rows (two unused)
            Assert.That(tokenizer.VocabSize, Is.EqualTo(510));
            Assert.That(tokenizer.BosId, Is.EqualTo(0));
            Assert.That(tokenizer.EosId, Is.EqualTo(1));
            Assert.That(tokenizer.IgnoresMerges, Is.False);
            Assert.That(tokenizer.StopTokenIds, Is.EqualTo(new[] { 1 }));
            Assert.That(tokenizer.AddedTokens.Select(a => a.Content), Is.EqualTo(new[] { "<|begin_of_text|>", "<|end_of_text|>" }));
        });
        foreach (string s in new[] { " 1234567", "abc 123 def", "it's 'ok' don't", "tabs\tand\r\nbreaks  ", "Привет 你好" })
            Assert.That(tokenizer.Decode(tokenizer.Encode(s)), Is.EqualTo(s));
    }

    [Test]
    public void SpecialTokenTextIsPlainUnlessParsingIsAskedFor()
    {
        var tokenizer = Load();
        const string text = "a<|end_of_text|>b";
        int[] plain = tokenizer.Encode(text);
        int[] parsed = tokenizer.Encode(text, new EncodeOptions { ParseSpecial = true });
        Assert.Multiple(() =>
        {
            Assert.That(plain, Does.Not.Contain(1).And.Not.Contain(0));
            Assert.That(plain, Has.Length.GreaterThan(3));
            Assert.That(parsed, Is.EqualTo(tokenizer.Encode("a").Append(1).Concat(tokenizer.Encode("b"))));
            Assert.That(tokenizer.Decode(plain), Is.EqualTo(text));
            Assert.That(tokenizer.Decode(parsed), Is.EqualTo(text));
            Assert.That(tokenizer.Decode(parsed, skipSpecial: true), Is.EqualTo("ab"));
        });
    }

    [Test]
    public void AddBosIsOffByDefault()
    {
        var tokenizer = Load();
        Assert.That(tokenizer.Encode("hello"), Has.No.Member(0));
        Assert.That(tokenizer.Encode("hello", new EncodeOptions { AddBos = true }),
            Is.EqualTo(new[] { 0 }.Concat(tokenizer.Encode("hello"))));
        Assert.That(tokenizer.Encode("", new EncodeOptions { AddBos = true }), Is.EqualTo(new[] { 0 }));
        Assert.That(tokenizer.Encode(""), Is.Empty);
    }

    [Test]
    public void StreamingDecodeHoldsBackPartialCharacters()
    {
        var tokenizer = Load();
        // the tiny vocabulary has no multi-byte merges for an emoji: one token per byte
        int[] ids = tokenizer.Encode("x😀é");
        Assert.That(ids, Has.Length.EqualTo(1 + 4 + 2));
        var decoder = tokenizer.CreateStreamDecoder();
        var pieces = ids.Select(decoder.Append).ToArray();
        Assert.That(pieces, Is.EqualTo(new[] { "x", "", "", "", "😀", "", "é" }));
        Assert.That(decoder.Flush(), Is.Empty);
    }

    [Test]
    public void DecodeRejectsIdsOutsideTheVocabulary()
    {
        var tokenizer = Load();
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([510]));
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([-1]));
    }
}
