using BitNet.Interop;

namespace BitNet.Quantization;

/// <summary>
/// How far a tensor is from a reference (e.g. its quantize-dequantize from the original), accumulated in double
/// (<c>bn_error_metrics_compute</c>). Finite inputs never give NaN: <see cref="SqnrDb"/> is +∞ when the two are equal
/// and -∞ when only the reference is all zero; <see cref="Cosine"/> is 1 when both are all zero and 0 when only one is.
/// </summary>
/// <param name="Mse">Mean of (test - reference)².</param>
/// <param name="SqnrDb">Signal to quantization noise ratio, 10 log10(Σ reference² / Σ (test - reference)²), in dB.</param>
/// <param name="Cosine">Cosine similarity ⟨reference, test⟩ / (|reference| |test|), in [-1, 1].</param>
/// <param name="MaxAbsError">Max |test - reference|.</param>
/// <param name="MaxAbsIndex">The first index where <see cref="MaxAbsError"/> occurs (0 for empty tensors).</param>
public sealed record ErrorMetrics(double Mse, double SqnrDb, double Cosine, double MaxAbsError, long MaxAbsIndex)
{
    /// <summary>The metrics of <paramref name="test"/> against <paramref name="reference"/> (same length; may be empty).</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    /// <exception cref="BitNetException">A NaN or infinity in either (<see cref="BnStatus.ErrNumeric"/>, naming which and where).</exception>
    public static unsafe ErrorMetrics Compute(ReadOnlySpan<float> reference, ReadOnlySpan<float> test)
    {
        if (reference.Length != test.Length)
            throw new ArgumentException($"test holds {test.Length} values but reference holds {reference.Length}", nameof(test));
        NativeVersion.EnsureCompatible();
        BnErrorMetrics m;
        fixed (float* r = reference)
        fixed (float* t = test)
            BitNetException.Check(NativeMethods.bn_error_metrics_compute(r, t, reference.Length, &m));
        return new ErrorMetrics(m.Mse, m.SqnrDb, m.Cosine, m.MaxAbsError, m.MaxAbsIndex);
    }
}
