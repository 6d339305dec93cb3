using BitNet.Interop;
using BitNet.Quantization;

namespace BitNet.Tests.Quantization;

public sealed class ErrorMetricsTests
{
    [Test]
    public void MetricsOfASmallExampleAreTheHandComputedOnes()
    {
        float[] reference = [1f, 2f, 3f, 4f];
        float[] test = [1f, 2f, 3.5f, 2f];
        var m = ErrorMetrics.Compute(reference, test);
        // errors 0, 0, 0.5, -2: Σe² = 4.25; Σr² = 30; <r,t> = 1 + 4 + 10.5 + 8 = 23.5; Σt² = 1 + 4 + 12.25 + 4 = 21.25
        Assert.Multiple(() =>
        {
            Assert.That(m.Mse, Is.EqualTo(4.25 / 4).Within(1e-12));
            Assert.That(m.SqnrDb, Is.EqualTo(10 * Math.Log10(30 / 4.25)).Within(1e-9));
            Assert.That(m.Cosine, Is.EqualTo(23.5 / Math.Sqrt(30 * 21.25)).Within(1e-12));
            Assert.That(m.MaxAbsError, Is.EqualTo(2.0));
            Assert.That(m.MaxAbsIndex, Is.EqualTo(3));
        });
    }

    [Test]
    public void EdgeCasesGiveInfinitiesNotNaN()
    {
        float[] x = [0.5f, -1f];
        var same = ErrorMetrics.Compute(x, x);
        var zeroRef = ErrorMetrics.Compute([0f, 0f], x);
        var bothZero = ErrorMetrics.Compute([0f, 0f], [0f, 0f]);
        var empty = ErrorMetrics.Compute([], []);
        Assert.Multiple(() =>
        {
            Assert.That(same with { Cosine = 1.0 }, Is.EqualTo(new ErrorMetrics(0, double.PositiveInfinity, 1.0, 0, 0)));
            Assert.That(same.Cosine, Is.EqualTo(1.0).Within(1e-15)); // |r| |t| as two square roots: not always exactly 1
            Assert.That(zeroRef.SqnrDb, Is.EqualTo(double.NegativeInfinity));
            Assert.That(zeroRef.Cosine, Is.Zero);
            Assert.That(zeroRef.MaxAbsIndex, Is.EqualTo(1));
            Assert.That(bothZero.Cosine, Is.EqualTo(1.0));
            Assert.That(empty.Mse, Is.Zero);
        });
    }

    [Test]
    public void BadInputsAreRefused()
    {
        var a = Assert.Throws<ArgumentException>(() => ErrorMetrics.Compute(new float[3], new float[4]))!;
        Assert.That(a.Message, Does.Contain("test holds 4 values but reference holds 3"));
        var e = Assert.Throws<BitNetException>(() => ErrorMetrics.Compute([1f, 2f, 3f], [1f, float.NaN, 3f]))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrNumeric));
            Assert.That(e.NativeMessage, Does.Contain("test[1] is NaN"));
        });
    }
}
