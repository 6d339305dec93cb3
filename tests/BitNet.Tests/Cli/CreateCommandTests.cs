using BitNet.Cli;
using BitNet.Models;
using BitNet.Quantization;

namespace BitNet.Tests.Cli;

/// <summary>`bitnet create --preset tiny --random` (CLI.md): the tiny preset on the Llama-3 vocabulary loads with
/// <see cref="BitNetModelFile"/> at the preset's shape, with ternary codes, the tokenizer, and a Q6_K embedding within
/// Q6_K's error of the generated floats; the same seed gives the same bytes. (2b4t is run by hand: 1.1 GB.)</summary>
public sealed class CreateCommandTests
{
    private static string TokenizerPath => Path.Combine(RepositoryPaths.Root, "build", "tokenizers", "llama3", "tokenizer.json");

    private string _temp = null!;

    [SetUp]
    public void CreateTemp()
    {
        if (!File.Exists(TokenizerPath))
            Assert.Ignore($"{TokenizerPath} is absent: run bench/tokenizer-reference/fetch-llama3.sh (./build.sh does)");
        _temp = Path.Combine(Path.GetTempPath(), "bitnet-create-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_temp);
    }

    [TearDown]
    public void DeleteTemp()
    {
        if (_temp is not null && Directory.Exists(_temp)) Directory.Delete(_temp, recursive: true);
    }

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private string Create(string name, params string[] extra)
    {
        string outPath = Path.Combine(_temp, name);
        var (exit, stdout, stderr) = Run(["create", "--preset", "tiny", "--random", "--tokenizer", TokenizerPath, "-o", outPath, .. extra]);
        Assert.That(exit, Is.EqualTo(0), stderr);
        Assert.That(stdout, Is.Empty, "progress goes to stderr");
        return outPath;
    }

    [Test]
    public void TinyLoadsAtThePresetShapeWithTernaryCodesAndTheLlama3Tokenizer()
    {
        string path = Create("tiny.gguf", "--seed", "7");
        Assert.That(Directory.GetFiles(_temp), Is.EqualTo(new[] { path }), "no temporary file left behind");
        using (var f = GgufFile.Open(path))
        {
            Assert.That(f.Architecture, Is.EqualTo("bitnet"));
            Assert.That(f["token_embd.weight"].Type, Is.EqualTo(GgufTypes.Q6_K), "q6_k is the default");
            Assert.That(f["blk.1.ffn_down.weight"].Type, Is.EqualTo(GgufTypes.TQ2_0), "tq2_0 is the default");
            Assert.That(f.GetString("bitnet.hidden_activation"), Is.EqualTo("relu2"));
            Assert.That(f.GetUInt32(GgufKeys.EotTokenId), Is.EqualTo(128009u));
            Assert.That(f.ContainsTensor("output.weight"), Is.False, "tied");
        }
        using var model = BitNetModelFile.Open(path);
        ModelConfig c = model.Config, p = ModelPresets.Tiny;
        Assert.That((c.HiddenSize, c.LayerCount, c.HeadCount, c.KeyValueHeadCount, c.IntermediateSize, c.VocabSize),
            Is.EqualTo((256, 2, 4, 2, 768, 128256)));
        Assert.That((c.RopeTheta, c.MaxPositionEmbeddings, c.RmsNormEpsilon, c.Activation, c.TieWordEmbeddings),
            Is.EqualTo((p.RopeTheta, p.MaxPositionEmbeddings, p.RmsNormEpsilon, FfnActivation.ReluSquared, true)));
        Assert.That(c.BosTokenId, Is.EqualTo(128000));
        Assert.That(c.EosTokenIds, Is.EqualTo(new[] { 128001 }));
        Assert.That(model.Tokenizer, Is.Not.Null);
        Assert.That(model.Tokenizer!.VocabSize, Is.EqualTo(128256));
        Assert.That(model.Tokenizer.TokenToId("<|eot_id|>"), Is.EqualTo(128009));
        Assert.That(model.Tokenizer.Encode("Hello world"), Is.EqualTo(new[] { 9906, 1917 }));
        Assert.That(model.Embedding.Rows, Is.EqualTo(128256));
        Assert.That(model.Embedding.Cols, Is.EqualTo(256));

        foreach (LayerWeights layer in model.Layers)
        {
            foreach (TernaryTensor t in layer.Projections)
            {
                sbyte[] codes = t.GetCodes();
                Assert.That(codes.All(q => q is -1 or 0 or 1), t.Name);
                int[] counts = [codes.Count(q => q == -1), codes.Count(q => q == 0), codes.Count(q => q == 1)];
                foreach (int n in counts) Assert.That(n, Is.EqualTo(codes.Length / 3.0).Within(codes.Length * 0.01), $"{t.Name}: uniform over -1/0/+1");
                Assert.That(t.Scale, Is.InRange(0.02f, 0.05f), t.Name);
            }
            foreach (float[] norm in new[] { layer.InputNorm, layer.PostAttentionNorm, layer.AttentionSubNorm, layer.FfnSubNorm })
                Assert.That(norm, Is.All.InRange(0.9f, 1.1f));
        }
        Assert.That(model.Layers[0].FfnSubNorm, Has.Length.EqualTo(768));
        Assert.That(model.FinalNorm, Is.All.InRange(0.9f, 1.1f));
    }

    [Test]
    public void TheSameSeedGivesTheSameBytesAndAnotherSeedOtherBytes()
    {
        byte[] a = File.ReadAllBytes(Create("a.gguf", "--seed", "42"));
        byte[] b = File.ReadAllBytes(Create("b.gguf", "--seed", "42"));
        byte[] c = File.ReadAllBytes(Create("c.gguf", "--seed", "43"));
        Assert.That(a.AsSpan().SequenceEqual(b), Is.True, "same seed, same bytes");
        Assert.That(c, Has.Length.EqualTo(a.Length));
        Assert.That(a.AsSpan().SequenceEqual(c), Is.False, "another seed, other bytes");
    }

    [Test]
    public void Q6KEmbeddingIsTheGeneratedFloatsWithinQ6KError()
    {
        string path = Create("q6k.gguf", "--seed", "5");
        using var model = BitNetModelFile.Open(path);
        EmbeddingMatrix e = model.Embedding;
        Assert.That(e.Type, Is.EqualTo(EmbeddingType.Q6_K));
        var expected = new float[e.Cols];
        var actual = new float[e.Cols];
        double sumSq = 0, sumErrSq = 0;
        for (int row = 0; row < e.Rows; row += 997)
        {
            RandomModelWriter.EmbeddingRow(5, row, expected);
            e.GetRow(row, actual);
            for (int g = 0; g < e.Cols; g += 16)
            {
                // Q6_K: 16-value groups, 6-bit codes in [-32, 31] on a scale of about max|x| / 32, itself an int8 step of
                // the block's fp16 d: an error of half a step, with slack for the rounded scales
                float max = 0;
                for (int i = g; i < g + 16; i++) max = MathF.Max(max, MathF.Abs(expected[i]));
                for (int i = g; i < g + 16; i++)
                    Assert.That(actual[i], Is.EqualTo(expected[i]).Within(max / 32f), $"row {row}, column {i}");
            }
            for (int i = 0; i < e.Cols; i++)
            {
                sumSq += expected[i] * (double)expected[i];
                sumErrSq += (actual[i] - expected[i]) * (double)(actual[i] - expected[i]);
            }
        }
        double rms = Math.Sqrt(sumSq / (e.Cols * (e.Rows / 997 + 1)));
        Assert.That(rms, Is.EqualTo(RandomModelWriter.EmbeddingStdDev).Within(0.001), "N(0, 0.02)");
        Assert.That(Math.Sqrt(sumErrSq / sumSq), Is.LessThan(0.02), "relative RMS error of 6-bit quantization");
    }

    [Test]
    public void EveryTernaryTypeHoldsTheSameCodesAndF16EmbeddingIsTheFloatsRounded()
    {
        string tq2 = Create("tq2.gguf", "--seed", "3");
        using var reference = BitNetModelFile.Open(tq2);
        foreach (string type in new[] { "tq1_0", "i2_s", "f16" })
        {
            string path = Create($"{type}.gguf", "--seed", "3", "--type", type, "--embedding-type", "f16");
            using var model = BitNetModelFile.Open(path, new ModelLoadOptions { I2SLayout = GgufModelWriter.HostI2SLayout });
            for (int l = 0; l < model.Layers.Count; l++)
                for (int i = 0; i < 7; i++)
                {
                    TernaryTensor x = reference.Layers[l].Projections[i], y = model.Layers[l].Projections[i];
                    Assert.That(y.GetCodes(), Is.EqualTo(x.GetCodes()), $"{type} {y.Name}");
                    Assert.That(y.Scale, Is.EqualTo(x.Scale), $"{type} {y.Name}");
                }
            Assert.That(model.Embedding.Type, Is.EqualTo(EmbeddingType.F16));
            var expected = new float[256];
            var actual = new float[256];
            RandomModelWriter.EmbeddingRow(3, 128255, expected);
            model.Embedding.GetRow(128255, actual);
            Assert.That(actual, Is.EqualTo(expected.Select(v => (float)(Half)v).ToArray()));
        }
    }

    [TestCase(new[] { "create", "--preset", "tiny", "-o", "x.gguf" }, "--random")]
    [TestCase(new[] { "create", "--preset", "huge", "--random", "-o", "x.gguf" }, "huge")]
    [TestCase(new[] { "create", "--preset", "tiny", "--random", "--type", "f32", "-o", "x.gguf" }, "f32")]
    public void BadCommandLinesFailWithOneLine(string[] args, string mention)
    {
        var (exit, _, stderr) = Run(args);
        Assert.That(exit, Is.Not.EqualTo(0));
        Assert.That(stderr, Does.StartWith("error: ").And.Contain(mention));
        Assert.That(stderr.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public void AnOutputThatIsNotGgufFails()
    {
        var (exit, _, stderr) = Run("create", "--preset", "tiny", "--random", "--tokenizer", TokenizerPath, "-o", Path.Combine(_temp, "folder"));
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(stderr, Does.StartWith("error: ").And.Contain(".gguf"));
        Assert.That(Directory.GetFileSystemEntries(_temp), Is.Empty);
    }
}
