using BitNet.Interop;
using BitNet.Models;
using BitNet.Quantization;

namespace BitNet.Tests.Quantization;

public sealed class TernaryQuantizerTests
{
    /// <summary>HF's WeightQuant written out in C# for one scale group: s = 1 / max(mean|W|, 1e-5), q = clamp(rne(W * s)).</summary>
    private static (sbyte[] Codes, float Scale) Reference(ReadOnlySpan<float> w)
    {
        double sum = 0;
        foreach (float v in w) sum += Math.Abs(v);
        float mean = (float)(sum / w.Length);
        float s = 1f / Math.Max(mean, 1e-5f);
        var q = new sbyte[w.Length];
        for (int i = 0; i < w.Length; i++) q[i] = (sbyte)Math.Clamp(MathF.Round(w[i] * s), -1f, 1f);
        return (q, s);
    }

    [Test]
    public void PerTensorIsHfWeightQuant()
    {
        const int rows = 13, cols = 37; // awkward for every vector width
        float[] w = TestData.Gaussian(rows * cols, seed: 1, sigma: 0.02f);
        using var t = TernaryQuantizer.Quantize(w, rows, cols);
        var (codes, s) = Reference(w);
        Assert.Multiple(() =>
        {
            Assert.That(t.Rows, Is.EqualTo(rows));
            Assert.That(t.Cols, Is.EqualTo(cols));
            Assert.That(t.Granularity, Is.EqualTo(Granularity.PerTensor));
            Assert.That(t.Scales, Is.EqualTo(new[] { s }));
            Assert.That(t.Codes.Span.ToArray(), Is.EqualTo(codes));
            Assert.That(codes.Count(c => c == 0), Is.InRange(rows * cols / 5, rows * cols / 2), "a Gaussian has about 31% zeros");
        });
    }

    [Test]
    public void PerChannelAndPerGroupUseTheFormulaOnEachRun()
    {
        const int rows = 6, cols = 96;
        float[] w = TestData.Gaussian(rows * cols, seed: 2);
        for (int c = 0; c < cols; c++) w[2 * cols + c] *= 50f; // one loud row: its scale must not leak into the others
        using var channel = TernaryQuantizer.Quantize(w, rows, cols, Granularity.PerChannel);
        using var group = TernaryQuantizer.Quantize(w, rows, cols, Granularity.PerGroup(32));
        Assert.That(channel.Scales, Has.Length.EqualTo(rows));
        Assert.That(group.Scales, Has.Length.EqualTo(rows * cols / 32));
        for (int r = 0; r < rows; r++)
        {
            var (q, s) = Reference(w.AsSpan(r * cols, cols));
            Assert.That(channel.Scales[r], Is.EqualTo(s), $"row {r}");
            Assert.That(channel.Codes.Span.Slice(r * cols, cols).ToArray(), Is.EqualTo(q), $"row {r}");
        }
        for (int g = 0; g < group.Scales.Length; g++)
        {
            var (q, s) = Reference(w.AsSpan(g * 32, 32));
            Assert.That(group.Scales[g], Is.EqualTo(s), $"group {g}");
            Assert.That(group.Codes.Span.Slice(g * 32, 32).ToArray(), Is.EqualTo(q), $"group {g}");
        }
        Assert.That(channel.Scales[2], Is.LessThan(channel.Scales[1] / 10f));
        Assert.That(group.Granularity.ScaleIndex(2, 70, cols), Is.EqualTo(2 * 3 + 2));
    }

    [Test]
    public void HalfAndBFloat16InputsQuantizeTheirExactFloatValues()
    {
        const int rows = 4, cols = 50;
        float[] w = TestData.Gaussian(rows * cols, seed: 3);
        Half[] h = w.Select(v => (Half)v).ToArray();
        ushort[] bf = w.Select(FloatConvert.SingleToBF16).ToArray();
        using var fromHalf = TernaryQuantizer.Quantize(h, rows, cols, Granularity.PerChannel);
        using var fromBf = TernaryQuantizer.QuantizeBFloat16(bf, rows, cols, Granularity.PerChannel);
        using var viaHalf = TernaryQuantizer.Quantize(h.Select(v => (float)v).ToArray(), rows, cols, Granularity.PerChannel);
        using var viaBf = TernaryQuantizer.Quantize(bf.Select(FloatConvert.BF16ToSingle).ToArray(), rows, cols, Granularity.PerChannel);
        Assert.Multiple(() =>
        {
            Assert.That(fromHalf.Scales, Is.EqualTo(viaHalf.Scales));
            Assert.That(fromHalf.Codes.Span.ToArray(), Is.EqualTo(viaHalf.Codes.Span.ToArray()));
            Assert.That(fromBf.Scales, Is.EqualTo(viaBf.Scales));
            Assert.That(fromBf.Codes.Span.ToArray(), Is.EqualTo(viaBf.Codes.Span.ToArray()));
            Assert.That(fromBf.Scales, Is.Not.EqualTo(fromHalf.Scales), "bf16 rounds coarser than fp16");
        });
    }

    [Test]
    public void DequantizeIsCodesOverScaleAndCloseToGaussianWeights()
    {
        const int rows = 64, cols = 256;
        float[] w = TestData.Gaussian(rows * cols, seed: 4, sigma: 0.05f);
        using var t = TernaryQuantizer.Quantize(w, rows, cols, Granularity.PerGroup(64));
        using var back = t.Dequantize();
        for (int i = 0; i < w.Length; i += 97)
            Assert.That(back.Span[i], Is.EqualTo(t.Codes.Span[i] / t.Scales[i / 64]));
        var m = ErrorMetrics.Compute(w, back.Span);
        // theory for absmean ternary of a Gaussian: cosine ≈ 0.887
        Assert.That(m.Cosine, Is.InRange(0.85, 0.92));
        Assert.That(m.SqnrDb, Is.InRange(5.0, 8.0));
    }

    [Test]
    public void NaNAndInfinityAreRefusedNamingRowAndColumn()
    {
        float[] w = TestData.Gaussian(3 * 10, seed: 5);
        w[1 * 10 + 7] = float.NaN;
        var e = Assert.Throws<BitNetException>(() => TernaryQuantizer.Quantize(w, 3, 10))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrNumeric));
            Assert.That(e.NativeMessage, Does.Contain("row 1, col 7").And.Contain("NaN"));
        });
        w[1 * 10 + 7] = 0f;
        w[2 * 10 + 3] = float.NegativeInfinity;
        var half = w.Select(v => (Half)v).ToArray();
        e = Assert.Throws<BitNetException>(() => TernaryQuantizer.Quantize(half, 3, 10, Granularity.PerChannel))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrNumeric));
            Assert.That(e.NativeMessage, Does.Contain("row 2, col 3").And.Contain("-infinity"));
        });
    }

    [Test]
    public void BadShapesAndGroupSizesAreRefusedWithTheNumbers()
    {
        float[] w = new float[4 * 48];
        var e = Assert.Throws<BitNetException>(() => TernaryQuantizer.Quantize(w, 4, 48, Granularity.PerGroup(10)))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrShape));
            Assert.That(e.NativeMessage, Does.Contain("cols (48)").And.Contain("group_size (10)"));
        });
        Assert.Throws<ArgumentOutOfRangeException>(() => Granularity.PerGroup(0));
        var a = Assert.Throws<ArgumentException>(() => TernaryQuantizer.Quantize(w, 4, 47))!;
        Assert.That(a.Message, Does.Contain("192").And.Contain("4 x 47").And.Contain("188"));
        Assert.Throws<ArgumentOutOfRangeException>(() => TernaryQuantizer.Quantize(w, 0, 48));
        Assert.Throws<ArgumentOutOfRangeException>(() => TernaryQuantizer.Quantize(ReadOnlySpan<float>.Empty, -1, 0, default, Span<sbyte>.Empty, Span<float>.Empty));
    }

    [Test]
    public void TooSmallDestinationSpansAreRefused()
    {
        float[] w = TestData.Gaussian(2 * 8, seed: 6);
        var codes = new sbyte[15];
        var e = Assert.Throws<BitNetException>(() => TernaryQuantizer.Quantize(w, 2, 8, Granularity.PerChannel, codes, new float[2]))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrBufferTooSmall));
            Assert.That(e.NativeMessage, Does.Contain("codes holds 15 values but 16 are needed"));
            Assert.That(codes, Is.All.Zero, "nothing written on failure");
        });
        e = Assert.Throws<BitNetException>(() => TernaryQuantizer.Quantize(w, 2, 8, Granularity.PerChannel, new sbyte[16], new float[1]))!;
        Assert.That(e.NativeMessage, Does.Contain("scales holds 1 values but 2 are needed"));
        // an empty tensor is fine into spans
        Assert.That(() => TernaryQuantizer.Quantize(ReadOnlySpan<float>.Empty, 0, 8, Granularity.PerChannel, Span<sbyte>.Empty,
            Span<float>.Empty), Throws.Nothing);
    }

    [Test]
    public void AllZeroWeightsClampTheMeanAt1EMinus5()
    {
        using var t = TernaryQuantizer.Quantize(new float[16], 2, 8);
        Assert.Multiple(() =>
        {
            Assert.That(t.Scales[0], Is.EqualTo(1f / 1e-5f));
            Assert.That(t.Codes.Span.ToArray(), Is.All.Zero);
        });
    }
}
