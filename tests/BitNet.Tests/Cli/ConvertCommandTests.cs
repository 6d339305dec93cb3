using System.Text.Json;
using BitNet.Cli;
using BitNet.Models;
using BitNet.Quantization;

namespace BitNet.Tests.Cli;

/// <summary>`bitnet convert` (CLI.md): tiny packed into every GGUF type and back into the HF packed layout, each loading
/// to identical codes and scales.</summary>
public sealed class ConvertCommandTests
{
    private string _temp = null!;

    [SetUp]
    public void CreateTemp()
    {
        _temp = Path.Combine(Path.GetTempPath(), "bitnet-convert-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_temp);
    }

    [TearDown]
    public void DeleteTemp()
    {
        if (Directory.Exists(_temp)) Directory.Delete(_temp, recursive: true);
    }

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private static void AssertSameCodesAndScales(BitNetModelFile a, BitNetModelFile b)
    {
        Assert.That(b.Layers, Has.Count.EqualTo(a.Layers.Count));
        for (int l = 0; l < a.Layers.Count; l++)
            for (int i = 0; i < 7; i++)
            {
                TernaryTensor x = a.Layers[l].Projections[i], y = b.Layers[l].Projections[i];
                Assert.That(y.GetCodes(), Is.EqualTo(x.GetCodes()), y.Name);
                Assert.That(y.Scale, Is.EqualTo(x.Scale), y.Name);
            }
        Assert.That(b.FinalNorm, Is.EqualTo(a.FinalNorm));
        Assert.That(b.Layers[^1].FfnSubNorm, Is.EqualTo(a.Layers[^1].FfnSubNorm));
    }

    [TestCase("f32", "F32", "bitnet")]
    [TestCase("f16", "F16", "bitnet")]
    [TestCase("tq1_0", "TQ1_0", "bitnet")]
    [TestCase("tq2_0", "TQ2_0", "bitnet")]
    [TestCase("i2_s", "I2_S", "bitnet-b1.58")]
    public void PackedToEachGgufTypeLoadsBackIdentically(string type, string ggufType, string arch)
    {
        string src = RepositoryPaths.Fixture("bitnet-tiny", "packed");
        string outPath = Path.Combine(_temp, $"tiny-{type}.gguf");
        string[] args = ["convert", src, "-o", outPath, "--type", type, "--embedding-type", "bf16"];
        if (type == "i2_s") args = [.. args, "--i2s-layout", "x86"];
        var (exit, stdout, stderr) = Run(args);
        Assert.That(exit, Is.EqualTo(0), stderr);
        Assert.That(stdout, Is.Empty, "progress goes to stderr");
        Assert.That(Directory.GetFiles(_temp), Is.EqualTo(new[] { outPath }));
        using (var f = GgufFile.Open(outPath))
        {
            Assert.That(f.Architecture, Is.EqualTo(arch));
            Assert.That(f["blk.1.ffn_up.weight"].Type.Name, Is.EqualTo(ggufType));
            Assert.That(f["token_embd.weight"].Type, Is.EqualTo(GgufTypes.BF16));
            Assert.That(f.GetString($"{arch}.hidden_activation"), Is.EqualTo("relu2"));
            // the fixture's 510 tokens padded to its 512-row vocabulary (llama.cpp needs one token per embedding row)
            Assert.That(f.GetStringArray(GgufKeys.Tokens), Has.Count.EqualTo(512));
        }
        using var a = BitNetModelFile.Open(src);
        using var b = BitNetModelFile.Open(outPath, new ModelLoadOptions { I2SLayout = PackedFormat.I2SX86 });
        AssertSameCodesAndScales(a, b);
        Assert.That(b.Embedding.ToSingles(), Is.EqualTo(a.Embedding.ToSingles()), "bf16 to bf16 is exact");
    }

    [Test]
    public void Q6KEmbeddingIsGgmlsReferenceQuantization()
    {
        string src = RepositoryPaths.Fixture("bitnet-tiny", "packed");
        string outPath = Path.Combine(_temp, "tiny-q6k.gguf");
        var (exit, _, stderr) = Run("convert", src, "-o", outPath, "--type", "tq2_0", "--embedding-type", "q6_k");
        Assert.That(exit, Is.EqualTo(0), stderr);
        using var a = BitNetModelFile.Open(src);
        using var b = BitNetModelFile.Open(outPath);
        Assert.That(b.Embedding.Type, Is.EqualTo(EmbeddingType.Q6_K));
        float[] x = a.Embedding.ToSingles();
        var expected = new byte[a.Embedding.Rows * EmbeddingTypes.RowBytes(EmbeddingType.Q6_K, a.Embedding.Cols)];
        EmbeddingTypes.QuantizeQ6_K(x, a.Embedding.Rows, a.Embedding.Cols, expected);
        Assert.That(b.Embedding.Bytes.ToArray(), Is.EqualTo(expected));
        float[] y = b.Embedding.ToSingles();
        float max = x.Max(MathF.Abs);
        for (int i = 0; i < x.Length; i++) Assert.That(y[i], Is.EqualTo(x[i]).Within(max / 32), $"value {i}");
        AssertSameCodesAndScales(a, b);

        var (hfExit, _, hfErr) = Run("convert", src, "-o", Path.Combine(_temp, "hf"), "--type", "hf-packed", "--embedding-type", "q6_k");
        Assert.That(hfExit, Is.EqualTo(1));
        Assert.That(hfErr, Does.Contain("error: --embedding-type q6_k"));
    }

    [Test]
    public void MasterToHfPackedIsTheFixturePackedCheckpoint()
    {
        string outDir = Path.Combine(_temp, "packed");
        var (exit, _, stderr) = Run("convert", RepositoryPaths.Fixture("bitnet-tiny", "master"), "-o", outDir, "--type", "hf-packed", "--embedding-type", "bf16");
        Assert.That(exit, Is.EqualTo(0), stderr);
        Assert.That(Directory.GetFileSystemEntries(_temp), Is.EqualTo(new[] { outDir }), "no temporary folder left");
        Assert.That(Directory.GetFiles(outDir).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { "config.json", "model.safetensors", "tokenizer.json" }));

        using var fixture = BitNetModelFile.Open(RepositoryPaths.Fixture("bitnet-tiny", "packed"));
        using var ours = BitNetModelFile.Open(outDir);
        Assert.That(ours.Config.Quantization, Is.EqualTo(new QuantizationConfig(LinearClass.AutoBitLinear, QuantizationMode.Offline)));
        Assert.That(ours.Config with { ActivationSource = "", EosTokenIds = [] }, Is.EqualTo(fixture.Config with { ActivationSource = "", EosTokenIds = [] }));
        for (int l = 0; l < fixture.Layers.Count; l++)
            for (int i = 0; i < 7; i++)
            {
                TernaryTensor x = fixture.Layers[l].Projections[i], y = ours.Layers[l].Projections[i];
                Assert.That(y.PackedBytes.SequenceEqual(x.PackedBytes), Is.True, $"{y.Name}: the packed bytes are the checkpoint's");
                Assert.That(y.Scale, Is.EqualTo(x.Scale), $"{y.Name}: weight_scale = bf16(1/s)");
            }
        Assert.That(ours.Embedding.ToSingles(), Is.EqualTo(fixture.Embedding.ToSingles()));
    }

    [Test]
    public void GgufToHfPackedAndBack()
    {
        string gguf = Path.Combine(_temp, "t.gguf"), folder = Path.Combine(_temp, "hf");
        string src = RepositoryPaths.Fixture("bitnet-small", "packed");
        Assert.That(Run("convert", src, "-o", gguf, "--type", "tq2_0").Exit, Is.EqualTo(0));
        var (exit, _, stderr) = Run("convert", gguf, "-o", folder, "--type", "hf-packed");
        Assert.That(exit, Is.EqualTo(0), stderr);
        Assert.That(stderr, Does.Contain("warning: ").And.Contain("no tokenizer.json"));
        using var a = BitNetModelFile.Open(src);
        using var b = BitNetModelFile.Open(folder);
        AssertSameCodesAndScales(a, b);
    }

    [TestCase("hf-packed", "x.gguf", "writes a Hugging Face folder")]
    [TestCase("tq2_0", "folder", "is a GGUF type")]
    public void MismatchedTypeAndOutput(string type, string output, string message)
    {
        var (exit, stdout, stderr) = Run("convert", RepositoryPaths.Fixture("bitnet-tiny", "packed"), "-o", Path.Combine(_temp, output), "--type", type);
        Assert.That(exit, Is.EqualTo(ExitCodes.Failure));
        Assert.That(stdout, Is.Empty);
        Assert.That(stderr.Trim(), Does.StartWith("error: ").And.Contain(message).And.Not.Contain("\n"));
        Assert.That(Directory.GetFileSystemEntries(_temp), Is.Empty);
    }

    [Test]
    public void UnknownTypeIsAUsageError()
    {
        var (exit, _, stderr) = Run("convert", "x", "-o", "y.gguf", "--type", "q4_0");
        Assert.That(exit, Is.EqualTo(ExitCodes.UsageError));
        Assert.That(stderr, Does.StartWith("error: ").And.Contain("q4_0"));
    }
}
