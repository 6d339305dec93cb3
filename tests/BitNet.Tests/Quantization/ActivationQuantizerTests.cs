using BitNet.Interop;
using BitNet.Quantization;

namespace BitNet.Tests.Quantization;

public sealed class ActivationQuantizerTests
{
    [Test]
    public void EachTokenIsHfActQuantAndRowSumsAreTheCodeSums()
    {
        const int rows = 5, cols = 77;
        float[] x = TestData.Gaussian(rows * cols, seed: 10, sigma: 3f);
        for (int c = 0; c < cols; c++) x[3 * cols + c] = 0f; // an all-zero token: a = 127 / 1e-5
        x[4 * cols + 9] = 40f;                            // an outlier sets its token's scale
        using var a = ActivationQuantizer.Quantize(x, rows, cols);
        Assert.That(a.Scales, Has.Length.EqualTo(rows));
        for (int r = 0; r < rows; r++)
        {
            float max = 0f;
            for (int c = 0; c < cols; c++) max = Math.Max(max, Math.Abs(x[r * cols + c]));
            float scale = 127f / Math.Max(max, 1e-5f);
            Assert.That(a.Scales[r], Is.EqualTo(scale), $"token {r}");
            int sum = 0;
            for (int c = 0; c < cols; c++)
            {
                sbyte expected = (sbyte)Math.Clamp(MathF.Round(x[r * cols + c] * scale), -128f, 127f);
                Assert.That(a.Codes.Span[r * cols + c], Is.EqualTo(expected), $"[{r}, {c}]");
                sum += expected;
            }
            Assert.That(a.RowSums[r], Is.EqualTo(sum), $"token {r}");
        }
        Assert.That(a.Codes.Span[4 * cols + 9], Is.EqualTo(127));
        using var back = a.Dequantize();
        for (int i = 0; i < x.Length; i++)
            Assert.That(back.Span[i], Is.EqualTo(x[i]).Within(0.5f / a.Scales[i / cols] * 1.0001f), $"value {i}");
    }

    [Test]
    public void RowSumsAreExactForSaturatedLongRows()
    {
        // 2560 codes of +127 (or -127) per row: the vector widening must not overflow its 16-bit lanes
        const int rows = 3, cols = 2560 + 7;
        var x = new float[rows * cols];
        for (int c = 0; c < cols; c++)
        {
            x[c] = 1f;                           // every code +127
            x[cols + c] = -2f;                   // every code -127
            x[2 * cols + c] = c % 2 == 0 ? 5f : -5f;
        }
        using var a = ActivationQuantizer.Quantize(x, rows, cols);
        Assert.That(a.RowSums, Is.EqualTo(new[] { 127 * cols, -127 * cols, 127 }));
    }

    [Test]
    public void IntoSpansSkipsRowSumsWhenNoneAreWanted()
    {
        float[] x = [1f, -2f, 0.5f, 4f, 4f, -4f];
        var codes = new sbyte[6];
        var scales = new float[2];
        ActivationQuantizer.Quantize(x, 2, 3, codes, scales);
        Assert.Multiple(() =>
        {
            Assert.That(codes, Is.EqualTo(new sbyte[] { 64, -127, 32, 127, 127, -127 }));
            Assert.That(scales, Is.EqualTo(new[] { 127f / 2f, 127f / 4f }));
        });
        var e = Assert.Throws<ArgumentException>(() => ActivationQuantizer.Quantize(x, 2, 3, new sbyte[6], new float[2], new int[1]))!;
        Assert.That(e.Message, Does.Contain("rowSums holds 1 values but there are 2 rows"));
    }

    [Test]
    public void BadInputsAreRefusedWithTheNumbers()
    {
        float[] x = TestData.Gaussian(4 * 6, seed: 11);
        x[2 * 6 + 5] = float.PositiveInfinity;
        var e = Assert.Throws<BitNetException>(() => ActivationQuantizer.Quantize(x, 4, 6))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrNumeric));
            Assert.That(e.NativeMessage, Does.Contain("x[17] (row 2, col 5) is +infinity"));
        });
        x[17] = 0f;
        e = Assert.Throws<BitNetException>(() => ActivationQuantizer.Quantize(x, 4, 6, new sbyte[24], new float[3]))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrBufferTooSmall));
            Assert.That(e.NativeMessage, Does.Contain("scales holds 3 values but 4 are needed"));
        });
        var a = Assert.Throws<ArgumentException>(() => ActivationQuantizer.Quantize(x, 5, 6))!;
        Assert.That(a.Message, Does.Contain("holds 24 values but a 5 x 6 tensor has 30"));
    }
}
