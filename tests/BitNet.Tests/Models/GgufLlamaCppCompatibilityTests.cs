using System.Runtime.InteropServices;
using BitNet.Models;
using BitNet.Tokenization;

namespace BitNet.Tests.Models;

/// <summary>
/// What llama.cpp's loader demands of a GGUF that <see cref="GgufModelWriter"/> writes (seen with llama.cpp d32676d77,
/// docs/compatibility.md): the GPT-2 pre-tokenizer under llama.cpp's name "gpt-2", and exactly one token per row of
/// token_embd (the fixtures' tokenizer has 510 tokens for a 512-row embedding).
/// </summary>
public sealed class GgufLlamaCppCompatibilityTests
{
    private string _temp = null!;

    [SetUp]
    public void CreateTemp()
    {
        _temp = Path.Combine(Path.GetTempPath(), "bitnet-gguf-llamacpp-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_temp);
    }

    [TearDown]
    public void DeleteTemp()
    {
        if (Directory.Exists(_temp)) Directory.Delete(_temp, recursive: true);
    }

    [Test]
    public void TokenListPaddedToVocabularyWithGpt2PreTokenizerName()
    {
        using var packed = BitNetModelFile.Open(RepositoryPaths.Fixture("bitnet-tiny", "packed"));
        int own = packed.Tokenizer!.ToGgufArrays().Tokens.Length;
        Assume.That(own, Is.LessThan(packed.Config.VocabSize), "the fixture's tokenizer no longer leaves a gap");
        string gguf = Path.Combine(_temp, "tiny.gguf");
        GgufModelWriter.Write(packed, gguf, new GgufModelWriterOptions { TernaryType = TernaryFileType.TQ2_0 });

        using (var file = GgufFile.Open(gguf))
        {
            GgufStringArray tokens = file.GetStringArray(GgufKeys.Tokens);
            Assert.That(file.TryGetArray<int>(GgufKeys.TokenTypes, out var typeSpan), Is.True);
            int[] types = typeSpan.ToArray();
            long embdRows = file["token_embd.weight"].Dimensions[1];
            Assert.Multiple(() =>
            {
                Assert.That(file.TryGetString(GgufKeys.TokenizerPre, out var pre) ? pre : null, Is.EqualTo("gpt-2"));
                Assert.That(tokens.Count, Is.EqualTo(packed.Config.VocabSize));
                Assert.That(tokens.Count, Is.EqualTo(embdRows), "llama.cpp: token_embd rows == number of tokens");
                Assert.That(types.Length, Is.EqualTo(tokens.Count));
                for (int id = own; id < tokens.Count; id++)
                {
                    Assert.That(tokens[id], Is.EqualTo($"[PAD{id}]"));
                    Assert.That(types[id], Is.EqualTo(5), "UNUSED");
                }
                Assert.That(types[own - 1], Is.Not.EqualTo(5));
            });
        }

        // the padded list still reads back to a tokenizer that encodes the reference text as tokenizer.json does
        using var loaded = BitNetModelFile.Open(gguf);
        using var reference = SafetensorsFile.Open(RepositoryPaths.Fixture("bitnet-tiny", "reference-master.safetensors"));
        var opts = new EncodeOptions { AddBos = true };
        Assert.That(loaded.Tokenizer!.Encode(reference.Metadata["text"], opts),
            Is.EqualTo(MemoryMarshal.Cast<byte, int>(reference.GetBytes("input_ids")).ToArray()));
    }

    [Test]
    public void PadToVocabularyLeavesFullListsAlone()
    {
        string[] tokens = ["a", "b", "c"];
        int[] types = [1, 3, 1];
        var same = GgufModelWriter.PadToVocabulary(tokens, types, 3);
        Assert.That(same.Tokens, Is.SameAs(tokens));
        var grown = GgufModelWriter.PadToVocabulary(tokens, types, 5);
        Assert.Multiple(() =>
        {
            Assert.That(grown.Tokens, Is.EqualTo(new[] { "a", "b", "c", "[PAD3]", "[PAD4]" }));
            Assert.That(grown.Types, Is.EqualTo(new[] { 1, 3, 1, 5, 5 }));
        });
    }
}
