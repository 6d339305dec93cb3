using BitNet.Models;
using BitNet.Training;

namespace BitNet.Tests.Training;

/// <summary>The managed trainer over the native <c>bn_trainer</c>: tensor listing, initialisation, buffer round trips,
/// gradient clipping, and that training lowers the loss.</summary>
public sealed class BitNetTrainerTests
{
    [Test]
    public void Tensors_AreTheHfParameters_WithTheirShapes()
    {
        ModelConfig c = TrainingTestModels.Small();
        using var trainer = BitNetTrainer.Create(c, 2, 16);
        Assert.That(trainer.Tensors, Has.Count.EqualTo(2 + 11 * c.LayerCount));
        Assert.That(trainer.Tensors[0].Name, Is.EqualTo(BitNetTrainer.EmbeddingName));
        Assert.That(trainer.Tensors[^1].Name, Is.EqualTo("model.norm.weight"));
        Assert.Multiple(() =>
        {
            Assert.That((trainer[BitNetTrainer.EmbeddingName].Rows, trainer[BitNetTrainer.EmbeddingName].Cols), Is.EqualTo((96, 256)));
            Assert.That(trainer["model.layers.1.self_attn.k_proj.weight"], Is.EqualTo(new TrainerTensor(
                trainer["model.layers.1.self_attn.k_proj.weight"].Index, "model.layers.1.self_attn.k_proj.weight", 128, 256, true)));
            Assert.That((trainer["model.layers.0.mlp.down_proj.weight"].Rows, trainer["model.layers.0.mlp.down_proj.weight"].Cols), Is.EqualTo((256, 512)));
            Assert.That(trainer["model.layers.0.mlp.ffn_sub_norm.weight"].Shape, Is.EqualTo(new long[] { 512 }));
            Assert.That(trainer.Tensors.Count(t => t.IsTernary), Is.EqualTo(7 * c.LayerCount));
            Assert.That(trainer.Tensors.Count(t => t.IsNorm), Is.EqualTo(4 * c.LayerCount + 1));
            Assert.That(trainer.Find("lm_head.weight"), Is.Null);
        });
    }

    [Test]
    public void InitializeRandom_IsHfInit_AndDeterministic()
    {
        ModelConfig c = TrainingTestModels.Small();
        using var a = BitNetTrainer.Create(c, 1, 8);
        using var b = BitNetTrainer.Create(c, 1, 8);
        a.InitializeRandom(42);
        b.InitializeRandom(42);
        foreach (TrainerTensor t in a.Tensors)
        {
            float[] v = a.ReadTensor(t, TrainBuffer.Parameters);
            Assert.That(v, Is.EqualTo(b.ReadTensor(b[t.Name], TrainBuffer.Parameters)), t.Name + ": same seed, same weights");
            if (t.IsNorm)
            {
                Assert.That(v, Is.All.EqualTo(1f), t.Name);
                continue;
            }
            double mean = v.Average(x => (double)x), std = Math.Sqrt(v.Average(x => (double)x * x) - mean * mean);
            // n >= 24576 samples of N(0, 0.02): the mean within 5 standard errors, the std within 3%
            Assert.That(mean, Is.EqualTo(0).Within(5 * 0.02 / Math.Sqrt(v.Length)), t.Name + " mean");
            Assert.That(std, Is.EqualTo(0.02).Within(0.02 * 0.03), t.Name + " std");
        }
        b.InitializeRandom(43);
        Assert.That(b.ReadTensor(b.Tensors[1 + 4], TrainBuffer.Parameters), Is.Not.EqualTo(a.ReadTensor(a.Tensors[1 + 4], TrainBuffer.Parameters)));
        // tensors draw from different streams
        Assert.That(a.ReadTensor(a["model.layers.0.self_attn.q_proj.weight"], TrainBuffer.Parameters),
            Is.Not.EqualTo(a.ReadTensor(a["model.layers.0.self_attn.o_proj.weight"], TrainBuffer.Parameters)));
    }

    [Test]
    public void WriteThenRead_RoundTripsEveryBuffer()
    {
        using var trainer = BitNetTrainer.Create(TrainingTestModels.Small(), 1, 8);
        TrainerTensor t = trainer["model.layers.1.mlp.up_proj.weight"];
        foreach (TrainBuffer which in Enum.GetValues<TrainBuffer>())
        {
            float[] v = Enumerable.Range(0, t.ElementCount).Select(i => (float)Math.Sin(i + (int)which)).ToArray();
            trainer.WriteTensor(t, which, v);
            Assert.That(trainer.ReadTensor(t, which), Is.EqualTo(v), which.ToString());
        }
        Assert.Throws<ArgumentException>(() => trainer.WriteTensor(t, TrainBuffer.Parameters, new float[t.ElementCount - 1]));
        Assert.Throws<KeyNotFoundException>(() => _ = trainer["model.layers.9.mlp.up_proj.weight"]);
    }

    [Test]
    public void ForwardBackward_ChecksSpanLengths()
    {
        using var trainer = BitNetTrainer.Create(TrainingTestModels.Small(), 2, 8);
        Assert.Throws<ArgumentException>(() => trainer.ForwardBackward(new int[15], new int[16], 2, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.ForwardBackward(new int[27], new int[27], 3, 9));
        Assert.Throws<BitNetException>(() => trainer.ForwardBackward(Enumerable.Repeat(96, 8).ToArray(), new int[8], 1, 8),
            "an id outside the vocabulary");
    }

    [Test]
    public void ClipGradientNorm_ReturnsThePreClipNorm_AndLeavesTheMaximum()
    {
        ModelConfig c = TrainingTestModels.Small();
        using var trainer = BitNetTrainer.Create(c, 2, 16);
        trainer.InitializeRandom(5);
        var data = new SyntheticTrainingData(c.VocabSize, 16);
        int[] inputs = new int[32], targets = new int[32];
        data.NextBatch(inputs, targets, 2);
        trainer.ZeroGradients();
        float loss = trainer.ForwardBackward(inputs, targets, 2, 16);
        Assert.That(loss, Is.EqualTo(Math.Log(c.VocabSize)).Within(0.5), "near-uniform predictions at init");
        double norm = trainer.GradientNorm();
        Assert.That(norm, Is.GreaterThan(0));
        double max = norm / 4;
        Assert.That(trainer.ClipGradientNorm(max), Is.EqualTo(norm));
        Assert.That(trainer.GradientNorm(), Is.EqualTo(max).Within(max * 1e-5));
        Assert.That(trainer.ClipGradientNorm(norm * 10), Is.EqualTo(max).Within(max * 1e-5), "no clipping below the maximum");
        Assert.That(trainer.GradientNorm(), Is.EqualTo(max).Within(max * 1e-5));
        trainer.ZeroGradients();
        Assert.That(trainer.GradientNorm(), Is.EqualTo(0));
    }

    [TestCase("adamw")]
    [TestCase("sgd")]
    public void Training_LowersTheLoss(string optimizer)
    {
        ModelConfig c = TrainingTestModels.Small();
        using var trainer = BitNetTrainer.Create(c, 4, 16);
        trainer.InitializeRandom(7);
        var data = new SyntheticTrainingData(c.VocabSize, 16);
        int[] inputs = new int[64], targets = new int[64];
        data.NextBatch(inputs, targets, 4);
        OptimizerOptions opt = optimizer == "adamw" ? new AdamWOptions() : new SgdOptions { Momentum = 0.9 };
        double lr = optimizer == "adamw" ? 3e-3 : 0.5;
        float first = trainer.Evaluate(inputs, targets, 4, 16).Loss;
        for (int step = 1; step <= 15; step++)
        {
            trainer.ZeroGradients();
            trainer.ForwardBackward(inputs, targets, 4, 16);
            trainer.ClipGradientNorm(1.0);
            trainer.Step(opt, lr, 0.0, step);
        }
        EvaluationResult after = trainer.Evaluate(inputs, targets, 4, 16);
        TestContext.Out.WriteLine($"{optimizer}: loss {first} -> {after.Loss}");
        Assert.That(after.TargetCount, Is.EqualTo(64));
        Assert.That(after.Loss, Is.LessThan(first - 0.5), "15 steps on one batch must fit it noticeably");
    }

    [Test]
    public void Evaluate_Logits_GiveTheLoss()
    {
        ModelConfig c = TrainingTestModels.Small();
        using var trainer = BitNetTrainer.Create(c, 1, 12);
        trainer.InitializeRandom(3);
        var data = new SyntheticTrainingData(c.VocabSize, 12);
        int[] inputs = new int[12], targets = new int[12];
        data.NextBatch(inputs, targets, 1);
        targets[4] = -1; // ignored
        var logits = new float[12 * c.VocabSize];
        EvaluationResult r = trainer.Evaluate(inputs, targets, 1, 12, 1f, logits);
        double sum = 0;
        for (int t = 0; t < 12; t++)
        {
            if (targets[t] < 0) continue;
            ReadOnlySpan<float> row = logits.AsSpan(t * c.VocabSize, c.VocabSize);
            double max = double.NegativeInfinity;
            foreach (float x in row) max = Math.Max(max, x);
            double lse = 0;
            foreach (float x in row) lse += Math.Exp(x - max);
            sum += Math.Log(lse) + max - row[targets[t]];
        }
        Assert.That(r.TargetCount, Is.EqualTo(11));
        Assert.That(r.Loss, Is.EqualTo(sum / 11).Within(1e-4));
    }

    [Test]
    public void DecayExemptions_LeaveNormsAndEmbeddingUndecayed()
    {
        // SGD: p1 = p0 - lr (g + m wd p0), m the tensor's decay multiplier (0 where exempted)
        ModelConfig c = TrainingTestModels.Small();
        using var trainer = BitNetTrainer.Create(c, 1, 8);
        trainer.InitializeRandom(9);
        var opt = new SgdOptions { ExemptNormsFromDecay = true, ExemptEmbeddingFromDecay = true };
        trainer.ApplyDecayExemptions(opt);
        var data = new SyntheticTrainingData(c.VocabSize, 8);
        int[] inputs = new int[8], targets = new int[8];
        data.NextBatch(inputs, targets, 1);
        trainer.ZeroGradients();
        trainer.ForwardBackward(inputs, targets, 1, 8);
        Dictionary<string, float[]> p0 = trainer.Tensors.ToDictionary(t => t.Name, t => trainer.ReadTensor(t, TrainBuffer.Parameters));
        Dictionary<string, float[]> g = trainer.Tensors.ToDictionary(t => t.Name, t => trainer.ReadTensor(t, TrainBuffer.Gradients));
        const double lr = 0.1, wd = 0.5;
        trainer.Step(opt, lr, wd, 1);
        foreach (TrainerTensor t in trainer.Tensors)
        {
            double m = t.IsNorm || t.IsEmbedding ? 0 : 1;
            float[] p1 = trainer.ReadTensor(t, TrainBuffer.Parameters);
            for (int i = 0; i < p1.Length; i += 97)
                Assert.That(p1[i], Is.EqualTo(p0[t.Name][i] - lr * (g[t.Name][i] + m * wd * p0[t.Name][i])).Within(1e-6), $"{t.Name}[{i}]");
        }
    }

    [Test]
    public void InitializeRandom_FollowsTheDocumentedStreams()
    {
        // block b of tensor i: xoshiro256** seeded with seed ^ (i+1)·0x9E3779B97F4A7C15 ^ (b+1)·0xD1B54A32D192ED03,
        // pairs (u1 = 1 - next, u2 = next) -> r = sqrt(-2 ln u1) · 0.02, (r cos 2πu2, r sin 2πu2)
        using var trainer = BitNetTrainer.Create(TrainingTestModels.Small(), 1, 8);
        trainer.InitializeRandom(1234);
        TrainerTensor q = trainer["model.layers.0.self_attn.q_proj.weight"]; // 65536 values: exactly block 0
        TrainerTensor gate = trainer["model.layers.0.mlp.gate_proj.weight"]; // 131072 values: blocks 0 and 1
        foreach ((TrainerTensor t, int block) in new[] { (q, 0), (gate, 1) })
        {
            var rng = new BitNet.Inference.Sampling.Xoshiro256StarStar(1234UL ^ ((ulong)(t.Index + 1) * 0x9E3779B97F4A7C15UL) ^ ((ulong)(block + 1) * 0xD1B54A32D192ED03UL));
            float[] v = trainer.ReadTensor(t, TrainBuffer.Parameters);
            for (int i = 0; i < 6; i += 2)
            {
                double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble(), r = Math.Sqrt(-2.0 * Math.Log(u1)) * 0.02;
                Assert.That(v[block * 65536 + i], Is.EqualTo((float)(r * Math.Cos(2 * Math.PI * u2))), $"{t.Name}[{block * 65536 + i}]");
                Assert.That(v[block * 65536 + i + 1], Is.EqualTo((float)(r * Math.Sin(2 * Math.PI * u2))), $"{t.Name}[{block * 65536 + i + 1}]");
            }
        }
    }
}
