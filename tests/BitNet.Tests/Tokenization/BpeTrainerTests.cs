using System.Text;
using BitNet.Tokenization;

namespace BitNet.Tests.Tokenization;

/// <summary>BpeTrainer: merges learned in the right order on hand-made corpora, determinism, and that the written
/// tokenizer.json loads in BpeTokenizer, round-trips text and compresses the training text.</summary>
public sealed class BpeTrainerTests
{
    private static string Genesis => File.ReadAllText(Path.Combine(RepositoryPaths.Root, "tests", "BitNet.Tests", "Training", "genesis-1-4.txt"));

    private const string Varied =
        "Hello, world! It's 2026-11-23T14:39:20Z; tabs\tand\r\nCRLF  breaks   \n\n" +
        "Ünïcödé: naïve café, Привет мир, 你好，世界, こんにちは, 안녕하세요, مرحبا, שלום\n" +
        "Emoji 😀🎉👍🏽 and astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈; numbers 1234567890 3.14159 1e-5 -42\n" +
        "Code: if (x != y) { return a[i] + b->c; } // don't won't I'll we've they're\n";

    /// <summary>"word\n" repeated count times for each (word, count): newlines are their own pre-tokens, so the words
    /// are exactly these.</summary>
    private static string Corpus(params (string Word, int Count)[] words)
    {
        var text = new StringBuilder();
        foreach (var (w, n) in words)
            for (int i = 0; i < n; i++) text.Append(w).Append('\n');
        return text.ToString();
    }

    private static TrainedBpe Train(string text, int merges, BpePreTokenizer pre = BpePreTokenizer.Gpt2, int minFrequency = 2)
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 258 + merges, PreTokenizer = pre, MinFrequency = minFrequency });
        trainer.AddText(text);
        return trainer.Train();
    }

    [Test]
    public void LearnsTheMostFrequentPairsFirst()
    {
        // The Hugging Face course's example: pair counts ug 20, pu 17, un 16, hu 15, gs 5, bu 4. After "u g": un 16 is
        // the best (hug -> h ug, so hu is gone and h ug counts 15), then h ug 15, then p un 12.
        var bpe = Train(Corpus(("hug", 10), ("pug", 5), ("pun", 12), ("bun", 4), ("hugs", 5)), merges: 4);
        Assert.Multiple(() =>
        {
            Assert.That(bpe.Merges, Is.EqualTo(new[] { ("u", "g"), ("u", "n"), ("h", "ug"), ("p", "un") }));
            Assert.That(bpe.VocabSize, Is.EqualTo(262));
            Assert.That(bpe.Tokens.Skip(258), Is.EqualTo(new[] { "ug", "un", "hug", "pun" }));
            Assert.That(bpe.Tokens.Take(2), Is.EqualTo(new[] { "<|begin_of_text|>", "<|end_of_text|>" }));
            // the byte alphabet in character order, as HF sorts it
            Assert.That(bpe.Tokens.Skip(2).Take(256), Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal));
        });
        var tokenizer = bpe.ToTokenizer();
        Assert.That(tokenizer.Encode("hugs").Select(id => tokenizer.IdToToken(id)), Is.EqualTo(new[] { "hug", "s" }));
        Assert.That(tokenizer.Encode("bun").Select(id => tokenizer.IdToToken(id)), Is.EqualTo(new[] { "b", "un" }));
    }

    [Test]
    public void BreaksTiesByTheSmallerSpelling()
    {
        // Every pair occurs 3 times; the order is the ordinal order of (left, right).
        var bpe = Train(Corpus(("cd", 3), ("ba", 3), ("ab", 3), ("zy", 3)), merges: 4);
        Assert.That(bpe.Merges, Is.EqualTo(new[] { ("a", "b"), ("b", "a"), ("c", "d"), ("z", "y") }));
    }

    [Test]
    public void CountsOverlappingPairsThenMergesLeftToRight()
    {
        // "aaaa" x5 holds "a a" 3 times per word (15 > "a b" 14); merged left to right it becomes "aa aa", one pair
        // per word (5 < 14).
        var bpe = Train(Corpus(("aaaa", 5), ("ab", 14)), merges: 3);
        Assert.That(bpe.Merges, Is.EqualTo(new[] { ("a", "a"), ("a", "b"), ("aa", "aa") }));
    }

    [Test]
    public void StopsWhenNoPairIsFrequentEnough()
    {
        var bpe = Train(Corpus(("xy", 2), ("pq", 1)), merges: 10);
        Assert.That(bpe.Merges, Is.EqualTo(new[] { ("x", "y") }));
        Assert.That(bpe.VocabSize, Is.EqualTo(259));
        var all = Train(Corpus(("xy", 2), ("pq", 1)), merges: 10, minFrequency: 1);
        Assert.That(all.Merges, Is.EqualTo(new[] { ("x", "y"), ("p", "q") }));
    }

    [TestCase(BpePreTokenizer.Llama3)]
    [TestCase(BpePreTokenizer.Gpt2)]
    public void WrittenFileLoadsRoundTripsAndCompresses(BpePreTokenizer pre)
    {
        string genesis = Genesis;
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 600, PreTokenizer = pre });
        trainer.AddText(genesis);
        trainer.AddText(Varied);
        var bpe = trainer.Train();
        Assert.That(bpe.VocabSize, Is.EqualTo(600));

        string path = Path.Combine(Path.GetTempPath(), $"bitnet-bpe-{Guid.NewGuid():N}.json");
        try
        {
            bpe.Save(path);
            var tokenizer = BpeTokenizer.FromFile(path);
            Assert.Multiple(() =>
            {
                Assert.That(tokenizer.VocabSize, Is.EqualTo(600));
                Assert.That(tokenizer.BosId, Is.EqualTo(0));
                Assert.That(tokenizer.EosId, Is.EqualTo(1));
                Assert.That(tokenizer.IsSpecial(0) && tokenizer.IsSpecial(1), Is.True);
            });
            foreach (string s in new[] { genesis, Varied, "", " ", "\n\n\n", "  leading and trailing  ", "<|end_of_text|> as text", "x\u0301y\u00a0z\u2028w" })
                Assert.That(tokenizer.Decode(tokenizer.Encode(s)), Is.EqualTo(s));
            int bytes = Encoding.UTF8.GetByteCount(genesis);
            int[] ids = tokenizer.Encode(genesis);
            Assert.That(ids, Has.Length.LessThan(bytes / 2), "the learned merges compress the training text");
            Assert.That(ids, Has.None.EqualTo(0).And.None.EqualTo(1), "special-token ids only for special tokens");
            // The merges are the trainer's, in rank order, and the file gives every token the trainer's id.
            for (int id = 2; id < 600; id++) Assert.That(tokenizer.IdToToken(id), Is.EqualTo(bpe.Tokens[id]));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void IsDeterministicAndIndependentOfDocumentOrder()
    {
        var a = new BpeTrainer(new BpeTrainerOptions { VocabSize = 500 });
        a.AddText(Genesis);
        a.AddText(Varied);
        var b = new BpeTrainer(new BpeTrainerOptions { VocabSize = 500 });
        b.AddText(Varied);
        b.AddText(Genesis);
        byte[] first = a.Train().ToJson();
        Assert.That(b.Train().ToJson(), Is.EqualTo(first));
        Assert.That(a.Train().ToJson(), Is.EqualTo(first), "training twice gives the same file");
    }

    [Test]
    public void RejectsImpossibleOptions()
    {
        Assert.Throws<ArgumentException>(() => new BpeTrainer(new BpeTrainerOptions { VocabSize = 257 }));
        Assert.Throws<ArgumentException>(() => new BpeTrainer(new BpeTrainerOptions { SpecialTokens = ["<s>", "<s>"] }));
        Assert.Throws<ArgumentException>(() => new BpeTrainer(new BpeTrainerOptions { MinFrequency = 0 }));
        Assert.Throws<InvalidOperationException>(() => new BpeTrainer(new BpeTrainerOptions { SpecialTokens = ["a"] }).Train(),
            "a special token that is also a byte token");
    }
}
