using BitNet.Interop;
using BitNet.Quantization;

namespace BitNet.Tests.Quantization;

public sealed class CalibratorTests
{
    [Test]
    public void AbsMaxIsExactAcrossBatchesAndPercentileIsWithinOneBin()
    {
        using var c = new Calibrator(bins: 1024);
        float[] a = TestData.Gaussian(4 * 1000, seed: 50);
        float[] b = TestData.Gaussian(2 * 1000, seed: 51, sigma: 2f); // raises the range: bins merge
        c.Observe(a, 4, 1000);
        c.Observe(b, 2, 1000);
        float max = a.Concat(b).Max(Math.Abs);
        var absmax = c.Compute(CalibrationMethod.AbsMax, bits: 8);
        Assert.Multiple(() =>
        {
            Assert.That(c.Bins, Is.EqualTo(1024));
            Assert.That(c.Count, Is.EqualTo(6000));
            Assert.That(absmax.Clip, Is.EqualTo(max));
            Assert.That(absmax.Count, Is.EqualTo(6000));
            Assert.That(absmax.Step, Is.EqualTo(max / 127f).Within(1e-6f * max));
            Assert.That(absmax.Multiplier, Is.EqualTo(127f / max).Within(1e-4f * 127f / max));
        });

        var sorted = a.Concat(b).Select(Math.Abs).Order().ToArray();
        float p99 = sorted[(int)Math.Ceiling(0.99 * sorted.Length) - 1];
        float range = MathF.Pow(2, MathF.Ceiling(MathF.Log2(max)));
        var pct = c.Compute(CalibrationMethod.Percentile, bits: 8, percentile: 99);
        Assert.That(pct.Clip, Is.GreaterThanOrEqualTo(p99).And.LessThanOrEqualTo(p99 + range / 1024));

        var mse4 = c.Compute(new CalibrationOptions { Method = CalibrationMethod.Mse, Bits = 4 });
        Assert.Multiple(() =>
        {
            Assert.That(mse4.Clip, Is.LessThan(max), "4-bit MSE clipping of a Gaussian clips the tails");
            Assert.That(mse4.Bits, Is.EqualTo(4));
            Assert.That(mse4.Mse, Is.LessThan(c.Compute(CalibrationMethod.AbsMax, bits: 4).Mse));
        });
    }

    [Test]
    public void ABatchWithNaNIsRefusedWholeAndChangesNothing()
    {
        using var c = new Calibrator();
        c.Observe([1f, -2f, 0.5f]);
        float[] bad = [100f, 1f, float.NaN, 3f];
        var e = Assert.Throws<BitNetException>(() => c.Observe(bad, 2, 2))!;
        var r = c.Compute(CalibrationMethod.AbsMax);
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrNumeric));
            Assert.That(e.NativeMessage, Does.Contain("row 1, col 0"));
            Assert.That(c.Count, Is.EqualTo(3));
            Assert.That(r.Clip, Is.EqualTo(2f), "the 100 of the refused batch was not kept");
            Assert.That(c.Bins, Is.EqualTo(Calibrator.DefaultBins));
        });
    }

    [Test]
    public void BadArgumentsAreRefused()
    {
        var e = Assert.Throws<BitNetException>(() => new Calibrator(bins: 100).Dispose())!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrInvalidArgument));
            Assert.That(e.NativeMessage, Does.Contain("n_bins (100)"));
        });
        using var c = new Calibrator(64);
        e = Assert.Throws<BitNetException>(() => c.Compute(CalibrationMethod.Mse))!;
        Assert.That(e.NativeMessage, Does.Contain("nothing has been observed"));
        c.Observe([1f, 2f]);
        e = Assert.Throws<BitNetException>(() => c.Compute(CalibrationMethod.Percentile, 8, percentile: 120))!;
        Assert.That(e.NativeMessage, Does.Contain("percentile (120)"));
        e = Assert.Throws<BitNetException>(() => c.Compute(CalibrationMethod.AbsMax, bits: 1))!;
        Assert.That(e.NativeMessage, Does.Contain("bits (1)"));
        Assert.Throws<ArgumentException>(() => c.Observe(new float[5], 2, 3));
    }

    [Test]
    public void ResetForgetsAndDisposeIsFinal()
    {
        var c = new Calibrator(64);
        c.Observe([5f, -7f]);
        c.Reset();
        Assert.That(c.Count, Is.Zero);
        c.Observe([0.25f]);
        Assert.That(c.Compute(CalibrationMethod.AbsMax).Clip, Is.EqualTo(0.25f));
        c.Dispose();
        Assert.Throws<ObjectDisposedException>(() => c.Observe([1f]));
        Assert.Throws<ObjectDisposedException>(() => c.Compute(CalibrationMethod.AbsMax));
    }
}
