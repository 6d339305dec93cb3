namespace BitNet.Quantization;

/// <summary>
/// An asymmetrically (affine) int-N quantized [rows, cols] tensor (<see cref="IntQuantizer"/>):
/// codes in 0..2^bits - 1 in native memory, one step and one zero point per scale group, x ≈ (q - zero point) * step.
/// Disposing it returns the codes to their pool.
/// </summary>
public sealed class AsymmetricQuantized : QuantizedTensor<byte>
{
    internal AsymmetricQuantized(int rows, int cols, int bits, Granularity granularity, NativeBuffer<byte> codes, float[] steps,
                                 int[] zeroPoints)
        : base(rows, cols, codes)
    {
        Bits = bits;
        Granularity = granularity;
        Steps = steps;
        ZeroPoints = zeroPoints;
    }

    /// <summary>2, 4 or 8.</summary>
    public int Bits { get; }

    /// <summary>Which values share a step and zero point.</summary>
    public Granularity Granularity { get; }

    /// <summary>One step per scale group (<see cref="Quantization.Granularity.ScaleIndex"/>).</summary>
    public float[] Steps { get; }

    /// <summary>One zero point per scale group: the code of 0.0, exact.</summary>
    public int[] ZeroPoints { get; }

    /// <summary>Writes the dequantized values into <paramref name="destination"/> (at least Rows * Cols long).</summary>
    /// <exception cref="BitNetException"><paramref name="destination"/> is too short (<c>ErrBufferTooSmall</c>).</exception>
    public override void Dequantize(Span<float> destination) =>
        IntQuantizer.DequantizeAsymmetric(Codes.Span, Rows, Cols, Bits, Granularity, Steps, ZeroPoints, destination);
}
