using BitNet.Cli;
using BitNet.Models;
using BitNet.Training;
using BitNet.Tests.Cli;

namespace BitNet.Tests.Training;

/// <summary>`bitnet train-step` (CLI.md): the file holds loss, grad.* and weights.* for every parameter with the HF
/// shapes; the update is the optimizer's formula applied to the written gradients; bad input gives one error line.</summary>
public sealed class TrainStepCommandTests
{
    private string _temp = null!;

    [SetUp]
    public void CreateTemp()
    {
        _temp = Path.Combine(Path.GetTempPath(), "bitnet-train-step-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_temp);
    }

    [TearDown]
    public void DeleteTemp()
    {
        if (Directory.Exists(_temp)) Directory.Delete(_temp, recursive: true);
    }

    private static string Master => RepositoryPaths.Fixture("bitnet-tiny", "master");

    private const string Ids = "0,45,301,12,7,99,2,450,31,5,17,260";

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private static Dictionary<string, (long[] Shape, float[] Values)> MasterTensors()
    {
        using var f = SafetensorsFile.Open(Path.Combine(Master, "model.safetensors"));
        return f.Tensors.ToDictionary(t => t.Name, t => (t.Shape, f.ReadSingles(t.Name)));
    }

    [Test]
    public void AdamW_WritesLossGradsAndWeights_ForEveryParameter_AndAppliesTheUpdate()
    {
        string output = Path.Combine(_temp, "step.safetensors");
        var r = Run("train-step", "-m", Master, "--ids", Ids, "--batch", "3", "--optimizer", "adamw",
                    "--lr", "0.01", "--betas", "0.9,0.999", "--eps", "1e-8", "--weight-decay", "0.1", "-o", output);
        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        Assert.That(r.Out, Is.Empty);

        Dictionary<string, (long[] Shape, float[] Values)> master = MasterTensors();
        using var f = SafetensorsFile.Open(output);
        Assert.That(f.Tensors.Select(t => t.Name), Is.EquivalentTo(
            master.Keys.SelectMany(n => new[] { "grad." + n, "weights." + n }).Append("loss")));
        Assert.That(f["loss"].Shape, Is.EqualTo(new long[] { 1 }));
        float loss = f.ReadSingles("loss")[0];
        Assert.That(loss, Is.GreaterThan(0).And.LessThan(2 * Math.Log(512)));
        Assert.That(f.Tensors.Select(t => t.DType), Is.All.EqualTo(DType.F32));

        foreach ((string name, (long[] shape, float[] p0)) in master)
        {
            Assert.That(f["grad." + name].Shape, Is.EqualTo(shape), name);
            Assert.That(f["weights." + name].Shape, Is.EqualTo(shape), name);
            float[] g = f.ReadSingles("grad." + name), p1 = f.ReadSingles("weights." + name);
            Assert.That(g, Has.Some.Not.EqualTo(0f), name + ": every parameter gets a gradient");
            // AdamW step 1 (torch): m̂ = g, v̂ = g², so p1 = p0 (1 - lr wd) - lr g / (|g| + eps)
            for (int i = 0; i < p0.Length; i++)
            {
                double expect = p0[i] * (1 - 0.01 * 0.1) - 0.01 * g[i] / (Math.Abs(g[i]) + 1e-8);
                Assert.That(p1[i], Is.EqualTo(expect).Within(1e-6 + 1e-5 * Math.Abs(expect)), $"{name}[{i}]");
            }
        }
    }

    [Test]
    public void Sgd_UpdateIsPMinusLrTimesGradPlusDecay_AndLossMatchesTheTrainer()
    {
        string output = Path.Combine(_temp, "sgd.safetensors");
        var r = Run("train-step", "-m", Master, "--ids", Ids, "--batch", "2", "--optimizer", "sgd", "--lr", "0.5", "--weight-decay", "0.01", "-o", output);
        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        using var f = SafetensorsFile.Open(output);
        foreach ((string name, (long[] _, float[] p0)) in MasterTensors())
        {
            float[] g = f.ReadSingles("grad." + name), p1 = f.ReadSingles("weights." + name);
            for (int i = 0; i < p0.Length; i++)
                Assert.That(p1[i], Is.EqualTo(p0[i] - 0.5 * (g[i] + 0.01 * p0[i])).Within(1e-6 + 1e-6 * Math.Abs(p0[i])), $"{name}[{i}]");
        }

        // the loss is the trainer's mean cross-entropy of inputs row[:-1] -> targets row[1:] over the 2 rows of 6 ids
        int[] ids = Ids.Split(',').Select(int.Parse).ToArray();
        int[] inputs = [.. ids[0..5], .. ids[6..11]], targets = [.. ids[1..6], .. ids[7..12]];
        using BitNetModelFile model = BitNetModelFile.Open(Master);
        using var trainer = BitNetTrainer.Create(model.Config, 2, 5);
        trainer.LoadWeights(model);
        Assert.That(f.ReadSingles("loss")[0], Is.EqualTo(trainer.Evaluate(inputs, targets, 2, 5).Loss));
    }

    private static void AssertOneErrorLine((int Exit, string Out, string Err) r, string contains)
    {
        Assert.Multiple(() =>
        {
            Assert.That(r.Exit, Is.Not.EqualTo(0));
            Assert.That(r.Out, Is.Empty);
            string[] lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.That(lines, Has.Length.EqualTo(1), r.Err);
            Assert.That(lines.FirstOrDefault(), Does.StartWith("error: ").And.Contain(contains));
        });
    }

    [Test]
    public void BadInput_GivesOneErrorLine_AndWritesNothing()
    {
        string output = Path.Combine(_temp, "bad.safetensors");
        AssertOneErrorLine(Run("train-step", "-m", Master, "--ids", "1,2,3,4,5,6,7", "--batch", "2", "--optimizer", "sgd", "-o", output),
            "7 ids do not split into 2 rows");
        AssertOneErrorLine(Run("train-step", "-m", Master, "--ids", Ids, "--batch", "2", "--optimizer", "lion", "-o", output),
            "'lion' is not an optimizer");
        AssertOneErrorLine(Run("train-step", "-m", Path.Combine(_temp, "no-such-model"), "--ids", Ids, "--batch", "2", "--optimizer", "sgd", "-o", output),
            "no such model folder");
        AssertOneErrorLine(Run("train-step", "-m", Master, "--ids", "1,2,3,999", "--batch", "2", "--optimizer", "sgd", "-o", output),
            "outside the vocabulary");
        AssertOneErrorLine(Run("train-step", "-m", Master, "--ids", "1,2,3,4", "--batch", "4", "--optimizer", "adamw", "-o", output),
            "at least 2");
        AssertOneErrorLine(Run("train-step", "-m", Master, "--ids", Ids, "--batch", "2", "--optimizer", "adamw", "--betas", "0.9", "-o", output),
            "--betas");
        Assert.That(Directory.GetFiles(_temp), Is.Empty);
    }
}
