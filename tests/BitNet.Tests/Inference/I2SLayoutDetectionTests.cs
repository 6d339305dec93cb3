using BitNet.Cli;
using BitNet.Inference;
using BitNet.Models;
using BitNet.Quantization;
using BitNet.Tests.Cli;

namespace BitNet.Tests.Inference;

/// <summary>
/// <see cref="BitNetModel.Load"/> settles the layout of I2_S files, which GGUF does not record, by running a probe text
/// through both readings. The fixtures have random weights, so no English text tells their layouts apart (both
/// readings predict it at chance): the tests check that such a model keeps the host's layout and says why, and check
/// detection itself with a probe the model does predict in its true layout only, its own greedy continuation.
/// </summary>
public sealed class I2SLayoutDetectionTests
{
    private static readonly string s_temp = Path.Combine(Path.GetTempPath(), "bitnet-i2s-layout-" + Guid.NewGuid().ToString("N"));

    private static PackedFormat Host => GgufModelWriter.HostI2SLayout;

    private static PackedFormat Other => Host == PackedFormat.I2SX86 ? PackedFormat.I2SArm : PackedFormat.I2SX86;

    [OneTimeSetUp]
    public static void WriteFiles()
    {
        Directory.CreateDirectory(s_temp);
        using var packed = BitNetModelFile.Open(Fixture.TinyPacked.Path);
        foreach (PackedFormat layout in new[] { PackedFormat.I2SX86, PackedFormat.I2SArm })
            GgufModelWriter.Write(packed, PathOf(layout), new GgufModelWriterOptions { TernaryType = TernaryFileType.I2_S, I2SLayout = layout });
    }

    [OneTimeTearDown]
    public static void DeleteFiles()
    {
        if (Directory.Exists(s_temp)) Directory.Delete(s_temp, recursive: true);
    }

    private static string PathOf(PackedFormat layout) => Path.Combine(s_temp, $"tiny-{(layout == PackedFormat.I2SX86 ? "x86" : "arm")}.gguf");

    private static ModelOptions Given(PackedFormat layout) => new() { FileOptions = new ModelLoadOptions { I2SLayout = layout } };

    // bos, then greedy tokens from the model read in `layout` (a text that reading predicts well)
    private static int[] GreedyText(string path, PackedFormat layout, int count)
    {
        using var model = BitNetModel.Load(path, Given(layout));
        using var session = model.CreateSession(new SessionOptions { ContextSize = count + 1 });
        var ids = new List<int> { model.Config.BosTokenId ?? 0 };
        float[] logits = session.Forward(ids.ToArray());
        while (ids.Count < count + 1)
        {
            int next = 0;
            for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[next]) next = i;
            ids.Add(next);
            logits = session.Forward([next]);
        }
        return [.. ids];
    }

    [TestCase("x86")]
    [TestCase("arm")]
    public void DetectsTheLayoutAFileWasWrittenIn(string written)
    {
        PackedFormat truth = written == "x86" ? PackedFormat.I2SX86 : PackedFormat.I2SArm;
        string path = PathOf(truth);
        int[] probe = GreedyText(path, truth, 48);
        using var model = BitNetModel.Load(path, new ModelOptions { I2SProbeTokens = probe });
        I2SLayoutDecision d = model.I2SLayout!;
        TestContext.Out.WriteLine(d.Reason);
        Assert.That((d.Layout, d.Source), Is.EqualTo((truth, I2SLayoutSource.Detected)), d.Reason);
        double right = truth == PackedFormat.I2SX86 ? d.LossX86!.Value : d.LossArm!.Value;
        double? wrong = truth == PackedFormat.I2SX86 ? d.LossArm : d.LossX86;
        Assert.That(I2SLayoutProbe.PredictsWell(right, model.Config.VocabSize), Is.False,
            "a random model's greedy text is not predicted well enough to skip the other reading: both are compared");
        Assert.That(wrong!.Value - right, Is.GreaterThanOrEqualTo(I2SLayoutProbe.Margin), d.Reason);
        Assert.That(model.File.Layers[0].Q.PackedFormat, Is.EqualTo(truth), "the model kept is the one read in that layout");
        Assert.That(model.ConvertedProjections, Is.EqualTo(truth == PackedFormat.I2SX86 ? 0 : 14), "x86 is used in place, ARM converted");
    }

    [TestCase("x86")]
    [TestCase("arm")]
    public void RandomWeightsCannotBeToldApartAndKeepTheHostLayout(string written)
    {
        // the built-in English probe: a random model predicts it no better in one reading than in the other
        using var model = BitNetModel.Load(PathOf(written == "x86" ? PackedFormat.I2SX86 : PackedFormat.I2SArm));
        I2SLayoutDecision d = model.I2SLayout!;
        TestContext.Out.WriteLine(d.Reason);
        Assert.That((d.Layout, d.Source), Is.EqualTo((Host, I2SLayoutSource.HostDefault)), d.Reason);
        Assert.That(Math.Abs(d.LossX86!.Value - d.LossArm!.Value), Is.LessThan(I2SLayoutProbe.Margin));
        Assert.That(d.LossX86.Value, Is.EqualTo(Math.Log(model.Config.VocabSize)).Within(2.0), "about chance: ln(vocab)");
        Assert.That(d.Reason, Does.Contain("cannot tell the layouts apart").And.Contain("pass the layout"));
    }

    [Test]
    public void AReadingThatPredictsWellIsTakenWithoutTheOther()
    {
        // the threshold: under half of ln(vocab); 2B4T (vocab 128256, chance 11.76 nats) reads English at ~2-3 nats
        Assert.That(I2SLayoutProbe.PredictsWell(3.0, 128256), Is.True);
        Assert.That(I2SLayoutProbe.PredictsWell(6.0, 128256), Is.False);
        Assert.That(I2SLayoutProbe.PredictsWell(3.87, 512), Is.False, "the fixture's greedy text in its own layout");

        // A model that predicts its probe well is kept in the host's layout with the other reading never built. Made
        // from the fixture with embedding row j = 1000 * unit vector j % hidden: the residual stream is then the input
        // token's row whatever the layers add, and the tied head scores that same token (and its twin j ± hidden) far
        // above every other: on one token repeated the loss is ln 2 (in either reading, which does not matter here: the
        // point is that the second reading is not built once the first predicts well).
        using var packed = BitNetModelFile.Open(Fixture.TinyPacked.Path);
        string path = Path.Combine(s_temp, "copycat.gguf");
        GgufModelWriter.Write(packed, path, new GgufModelWriterOptions
        {
            TernaryType = TernaryFileType.I2_S, I2SLayout = Host, EmbeddingType = EmbeddingType.F32,
        });
        long offset, length;
        using (var f = GgufFile.Open(path)) (offset, length) = (f["token_embd.weight"].FileOffset, f["token_embd.weight"].ByteLength);
        byte[] bytes = File.ReadAllBytes(path);
        Span<float> embedding = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan((int)offset, (int)length));
        int hidden = packed.Config.HiddenSize;
        embedding.Clear();
        for (int j = 0; j < packed.Config.VocabSize; j++) embedding[j * hidden + j % hidden] = 1000f;
        File.WriteAllBytes(path, bytes);

        using var model = BitNetModel.Load(path, new ModelOptions { I2SProbeTokens = [.. Enumerable.Repeat(7, 32)] });
        I2SLayoutDecision d = model.I2SLayout!;
        TestContext.Out.WriteLine(d.Reason);
        Assert.That((d.Layout, d.Source), Is.EqualTo((Host, I2SLayoutSource.Detected)), d.Reason);
        Assert.That(Host == PackedFormat.I2SX86 ? d.LossArm : d.LossX86, Is.Null, "the other reading was not tried");
        Assert.That(d.Reason, Does.Contain("not tried"));
        Assert.That(model.ConvertedProjections, Is.EqualTo(0), "the host's reading, in place");
    }

    [Test]
    public void AGivenLayoutIsUsedAsGiven()
    {
        // even against the probe: the ARM file read as x86 (what an explicit --i2s-layout x86 asks for)
        string path = PathOf(PackedFormat.I2SArm);
        using var model = BitNetModel.Load(path, new ModelOptions
        {
            FileOptions = new ModelLoadOptions { I2SLayout = PackedFormat.I2SX86 },
            I2SProbeTokens = GreedyText(path, PackedFormat.I2SArm, 16),
        });
        Assert.That((model.I2SLayout!.Layout, model.I2SLayout.Source), Is.EqualTo((PackedFormat.I2SX86, I2SLayoutSource.Given)));
        Assert.That(model.I2SLayout.LossX86, Is.Null, "nothing probed");
        Assert.That(model.File.Layers[0].Q.PackedFormat, Is.EqualTo(PackedFormat.I2SX86));
    }

    [Test]
    public void FilesWithoutI2SHaveNoDecision()
    {
        using var model = BitNetModel.Load(Fixture.TinyPacked.Path);
        Assert.That(model.I2SLayout, Is.Null);
    }

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    [Test]
    public void CommandsLogALayoutTheyWereNotGiven()
    {
        string path = PathOf(PackedFormat.I2SArm), outPath = Path.Combine(s_temp, "logits.safetensors");
        var (exit, _, stderr) = Run("logits", "-m", path, "--ids", "0,5,9", "-o", outPath);
        Assert.That(exit, Is.EqualTo(0), stderr);
        Assert.That(stderr, Does.Contain($"I2_S layout: {(Host == PackedFormat.I2SX86 ? "x86" : "ARM")} (this machine's)"));

        (exit, _, stderr) = Run("logits", "-m", path, "--ids", "0,5,9", "-o", outPath, "--i2s-layout", "arm");
        Assert.That(exit, Is.EqualTo(0), stderr);
        Assert.That(stderr, Does.Not.Contain("I2_S layout"), "a given layout is not logged");
        float[] asArm = ReadLogits(outPath);
        (exit, _, stderr) = Run("logits", "-m", path, "--ids", "0,5,9", "-o", outPath, "--i2s-layout", "x86");
        Assert.That(exit, Is.EqualTo(0), stderr);
        Assert.That(ReadLogits(outPath), Is.Not.EqualTo(asArm), "the option changes how the weights are read");

        // convert: --input-i2s-layout reads IN, --i2s-layout writes OUT; ARM in, x86 out is the same model
        string x86 = Path.Combine(s_temp, "converted-x86.gguf");
        (exit, _, stderr) = Run("convert", path, "-o", x86, "--type", "i2_s", "--i2s-layout", "x86", "--input-i2s-layout", "arm");
        Assert.That(exit, Is.EqualTo(0), stderr);
        using var ours = GgufFile.Open(x86);
        using var direct = GgufFile.Open(PathOf(PackedFormat.I2SX86));
        Assert.That(ours.Tensors.Select(t => t.Name), Is.EqualTo(direct.Tensors.Select(t => t.Name)));
        foreach (GgufTensorInfo t in ours.Tensors)
            Assert.That(ours.GetTensorBytes(t).SequenceEqual(direct.GetTensorBytes(direct[t.Name])), t.Name + ": ARM read as ARM, written as x86");
    }

    private static float[] ReadLogits(string path)
    {
        using var f = SafetensorsFile.Open(path);
        return f.ReadSingles("logits");
    }
}
