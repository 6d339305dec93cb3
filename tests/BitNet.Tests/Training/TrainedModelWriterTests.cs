using BitNet.Inference;
using BitNet.Models;
using BitNet.Training;

namespace BitNet.Tests.Training;

/// <summary>Exporting trained weights: the master folder loads back bit for bit, and the packed folder and GGUF files
/// run through <see cref="BitNetModel"/> to the trainer's own blend-1 logits.</summary>
public sealed class TrainedModelWriterTests
{
    private string _temp = null!;

    [SetUp]
    public void CreateTemp()
    {
        _temp = Path.Combine(Path.GetTempPath(), "bitnet-export-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_temp);
    }

    [TearDown]
    public void DeleteTemp()
    {
        if (Directory.Exists(_temp)) Directory.Delete(_temp, recursive: true);
    }

    private static string Tokenizer => Path.Combine(RepositoryPaths.Fixture("bitnet-tiny", "master"), "tokenizer.json");

    /// <summary>A trainer after a few real steps (so norms and the embedding moved off their initial values) on the
    /// tiny fixture's 512-token vocabulary, so that its tokenizer fits.</summary>
    private static BitNetTrainer Trained()
    {
        ModelConfig c = TrainingTestModels.Small(vocab: 512);
        var trainer = BitNetTrainer.Create(c, 2, 16);
        trainer.InitializeRandom(21);
        var data = new SyntheticTrainingData(c.VocabSize, 16);
        int[] inputs = new int[32], targets = new int[32];
        for (int step = 1; step <= 3; step++)
        {
            data.NextBatch(inputs, targets, 2);
            trainer.ZeroGradients();
            trainer.ForwardBackward(inputs, targets, 2, 16);
            trainer.Step(new AdamWOptions(), 1e-2, 0.1, step);
        }
        return trainer;
    }

    /// <summary>
    /// Makes every projection's absmean scale exact in every format: half of each tensor's entries ±1/16 (random signs
    /// and places), half 0. Each tensor's element count is a power of two, so mean|W| = 1/32 exactly (whatever the
    /// summation order), the codes are clamp(round(±2)) = ±1 and 0, and w = 1/32 is exact in BF16 (packed
    /// weight_scale), FP16 (TQ2_0 d) and F32 (I2_S). Without this, the formats' 16-bit scales round w and the
    /// exported logits differ from the trainer's by that rounding, not by any mistake.
    /// </summary>
    private static void SnapProjections(BitNetTrainer trainer, int seed)
    {
        var rng = new Random(seed);
        foreach (TrainerTensor t in trainer.Tensors.Where(t => t.IsTernary))
        {
            Assert.That(int.IsPow2(t.ElementCount), t.Name);
            int[] order = Enumerable.Range(0, t.ElementCount).OrderBy(_ => rng.Next()).ToArray();
            var w = new float[t.ElementCount];
            for (int i = 0; i < order.Length / 2; i++) w[order[i]] = rng.Next(2) == 0 ? 0.0625f : -0.0625f;
            trainer.WriteTensor(t, TrainBuffer.Parameters, w);
        }
    }

    [Test]
    public void Master_LoadsBack_BitForBit_WithTheTokenizer()
    {
        using BitNetTrainer trainer = Trained();
        string folder = Path.Combine(_temp, "master");
        TrainedModelWriter.WriteMaster(trainer, folder, Tokenizer);
        Assert.That(Directory.GetFileSystemEntries(_temp), Is.EqualTo(new[] { folder }), "no temporary folder left behind");
        Assert.That(File.ReadAllBytes(Path.Combine(folder, "tokenizer.json")), Is.EqualTo(File.ReadAllBytes(Tokenizer)));

        using BitNetModelFile file = BitNetModelFile.Open(folder);
        Assert.That(file.Config.Quantization, Is.Null, "master weights: quantized online");
        Assert.That(file.Tokenizer, Is.Not.Null);
        using var back = BitNetTrainer.Create(file.Config, 1, 4);
        back.LoadWeights(file);
        foreach (TrainerTensor t in trainer.Tensors)
            Assert.That(back.ReadTensor(back[t.Name], TrainBuffer.Parameters), Is.EqualTo(trainer.ReadTensor(t, TrainBuffer.Parameters)), t.Name);

        Assert.Throws<IOException>(() => TrainedModelWriter.WriteMaster(trainer, folder), "the folder is not empty");
    }

    [TestCase("packed")]
    [TestCase("tq2_0")]
    [TestCase("i2_s")]
    public void Export_ThenBitNetModelLoad_GivesTheTrainersBlend1Logits(string format)
    {
        using BitNetTrainer trainer = Trained();
        SnapProjections(trainer, 5);
        string path = Path.Combine(_temp, format == "packed" ? "packed" : "model.gguf");
        switch (format)
        {
            case "packed": TrainedModelWriter.WritePacked(trainer, path, Tokenizer, EmbeddingType.F32); break;
            case "tq2_0": TrainedModelWriter.WriteGguf(trainer, path, Tokenizer, new GgufModelWriterOptions { EmbeddingType = EmbeddingType.F32 }); break;
            default: TrainedModelWriter.WriteGguf(trainer, path, Tokenizer, new GgufModelWriterOptions { TernaryType = TernaryFileType.I2_S, EmbeddingType = EmbeddingType.F32 }); break;
        }

        int[] ids = [0, 17, 301, 44, 44, 9, 510, 123, 77, 5, 250, 3];
        int v = trainer.Config.VocabSize;
        var expected = new float[ids.Length * v];
        trainer.Evaluate(ids, new int[ids.Length], 1, ids.Length, 1f, expected);

        using BitNetModel model = BitNetModel.Load(path);
        Assert.That(model.Tokenizer, Is.Not.Null, "the tokenizer travels with the model");
        if (format != "packed") Assert.That(model.File.Tensors.First(t => t.Name.Contains("attn_q")).Type, Is.EqualTo(format == "tq2_0" ? "TQ2_0" : "I2_S"));
        using InferenceSession session = model.CreateSession(new SessionOptions { ContextSize = ids.Length });
        float[] actual = session.Forward(ids, LogitsMode.All);

        double worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        TestContext.Out.WriteLine($"{format}: max |Δlogit| {worst:G3}, logits range {expected.Min():F3} .. {expected.Max():F3}");
        Assert.That(worst, Is.LessThanOrEqualTo(1e-4));
        Assert.That(expected.Max() - expected.Min(), Is.GreaterThan(0.1), "logits that vary, so the comparison means something");
    }
}
