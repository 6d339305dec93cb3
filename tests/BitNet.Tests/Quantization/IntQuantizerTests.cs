using BitNet.Interop;
using BitNet.Quantization;

namespace BitNet.Tests.Quantization;

public sealed class IntQuantizerTests
{
    private static IEnumerable<TestCaseData> Schemes()
    {
        foreach (int bits in new[] { 2, 4, 8 })
            foreach (var g in new[] { Granularity.PerTensor, Granularity.PerChannel, Granularity.PerGroup(24) })
                yield return new TestCaseData(bits, g).SetArgDisplayNames($"{bits} bits", g.ToString());
    }

    [TestCaseSource(nameof(Schemes))]
    public void SymmetricRoundTripIsWithinHalfAStep(int bits, Granularity g)
    {
        const int rows = 7, cols = 72;
        float[] x = TestData.Gaussian(rows * cols, seed: 20 + bits);
        using var q = IntQuantizer.QuantizeSymmetric(x, rows, cols, bits, g);
        int qmax = (1 << (bits - 1)) - 1;
        Assert.That(q.Steps, Has.Length.EqualTo(g.ScaleCount(rows, cols)));
        using var back = q.Dequantize();
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                float step = q.Steps[g.ScaleIndex(r, c, cols)];
                Assert.That((int)q.Codes.Span[i], Is.InRange(-qmax, qmax));
                Assert.That(back.Span[i], Is.EqualTo(q.Codes.Span[i] * step));
                Assert.That(back.Span[i], Is.EqualTo(x[i]).Within(step * 0.5001f), $"[{r}, {c}]");
            }
    }

    [TestCaseSource(nameof(Schemes))]
    public void AsymmetricRoundTripIsWithinHalfAStepAndZeroIsExact(int bits, Granularity g)
    {
        const int rows = 7, cols = 72;
        float[] x = TestData.Gaussian(rows * cols, seed: 30 + bits);
        for (int i = 0; i < x.Length; i++) x[i] = x[i] * x[i] + (i % 11 == 0 ? 0f : 0.1f); // skewed, mostly positive
        for (int i = 0; i < x.Length; i += 11) x[i] = 0f;
        using var q = IntQuantizer.QuantizeAsymmetric(x, rows, cols, bits, g);
        using var back = q.Dequantize();
        int levels = (1 << bits) - 1;
        for (int i = 0; i < x.Length; i++)
        {
            long s = g.ScaleIndex(i / cols, i % cols, cols);
            Assert.That((int)q.Codes.Span[i], Is.InRange(0, levels));
            Assert.That(q.ZeroPoints[s], Is.InRange(0, levels));
            if (x[i] == 0f) Assert.That(back.Span[i], Is.Zero, $"value {i} is 0 and must stay exact");
            else Assert.That(back.Span[i], Is.EqualTo(x[i]).Within(q.Steps[s] * 0.5001f), $"value {i}");
        }
    }

    [Test]
    public void SqnrRisesWithBits()
    {
        const int rows = 32, cols = 256;
        float[] x = TestData.Gaussian(rows * cols, seed: 40);
        double Sqnr(int bits, bool symmetric)
        {
            if (symmetric)
            {
                using var q = IntQuantizer.QuantizeSymmetric(x, rows, cols, bits, Granularity.PerChannel);
                using var back = q.Dequantize();
                return ErrorMetrics.Compute(x, back.Span).SqnrDb;
            }
            using var a = IntQuantizer.QuantizeAsymmetric(x, rows, cols, bits, Granularity.PerChannel);
            using var b = a.Dequantize();
            return ErrorMetrics.Compute(x, b.Span).SqnrDb;
        }
        foreach (bool symmetric in new[] { true, false })
        {
            double s2 = Sqnr(2, symmetric), s4 = Sqnr(4, symmetric), s8 = Sqnr(8, symmetric);
            Assert.That(s8, Is.GreaterThan(s4 + 15), $"symmetric {symmetric}: 8 bits {s8:F1} dB vs 4 bits {s4:F1} dB");
            Assert.That(s4, Is.GreaterThan(s2 + 5), $"symmetric {symmetric}: 4 bits {s4:F1} dB vs 2 bits {s2:F1} dB");
            Assert.That(s2, Is.GreaterThan(0));
        }
    }

    [Test]
    public void BadArgumentsAreRefusedWithTheNumbers()
    {
        float[] x = TestData.Gaussian(4 * 32, seed: 41);
        var e = Assert.Throws<BitNetException>(() => IntQuantizer.QuantizeSymmetric(x, 4, 32, 3))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrInvalidArgument));
            Assert.That(e.NativeMessage, Does.Contain("bits is 3"));
        });
        e = Assert.Throws<BitNetException>(() => IntQuantizer.QuantizeAsymmetric(x, 4, 32, 4, Granularity.PerGroup(12)))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrShape));
            Assert.That(e.NativeMessage, Does.Contain("cols (32) is not a multiple of group_size (12)"));
        });
        x[65] = float.NaN;
        e = Assert.Throws<BitNetException>(() => IntQuantizer.QuantizeAsymmetric(x, 4, 32, 8, Granularity.PerChannel))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrNumeric));
            Assert.That(e.NativeMessage, Does.Contain("row 2, col 1"));
        });

        sbyte[] codes = new sbyte[4 * 32];
        codes[70] = 8; // 4-bit symmetric codes are -7..7
        e = Assert.Throws<BitNetException>(() =>
            IntQuantizer.DequantizeSymmetric(codes, 4, 32, 4, Granularity.PerTensor, [0.5f], new float[128]))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrInvalidArgument));
            Assert.That(e.NativeMessage, Does.Contain("codes[70] = 8 is outside -7..7"));
        });
        codes[70] = 0;
        e = Assert.Throws<BitNetException>(() =>
            IntQuantizer.DequantizeSymmetric(codes, 4, 32, 4, Granularity.PerTensor, [-0.5f], new float[128]))!;
        Assert.That(e.Status, Is.EqualTo(BnStatus.ErrNumeric));
        e = Assert.Throws<BitNetException>(() =>
            IntQuantizer.DequantizeSymmetric(codes, 4, 32, 4, Granularity.PerTensor, [0.5f], new float[127]))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrBufferTooSmall));
            Assert.That(e.NativeMessage, Does.Contain("out holds 127 values but 128 are needed"));
        });
        var a = Assert.Throws<ArgumentException>(() =>
            IntQuantizer.DequantizeAsymmetric(new byte[128], 4, 32, 4, Granularity.PerChannel, new float[4], new int[3], new float[128]))!;
        Assert.That(a.Message, Does.Contain("steps (4 values) and zeroPoints (3 values)"));
        e = Assert.Throws<BitNetException>(() =>
            IntQuantizer.DequantizeAsymmetric(new byte[128], 4, 32, 2, Granularity.PerChannel, new float[4], [0, 1, 4, 0], new float[128]))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrInvalidArgument));
            Assert.That(e.NativeMessage, Does.Contain("zero_points[2] = 4 is outside 0..3"));
        });
    }
}
