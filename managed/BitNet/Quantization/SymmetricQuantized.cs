namespace BitNet.Quantization;

/// <summary>
/// A symmetrically int-N quantized [rows, cols] tensor (<see cref="IntQuantizer"/>): codes in
/// -qmax..qmax (qmax = 2^(bits-1) - 1) in native memory and one step per scale group, x ≈ q * step. Disposing it returns
/// the codes to their pool.
/// </summary>
public sealed class SymmetricQuantized : QuantizedTensor<sbyte>
{
    internal SymmetricQuantized(int rows, int cols, int bits, Granularity granularity, NativeBuffer<sbyte> codes, float[] steps)
        : base(rows, cols, codes)
    {
        Bits = bits;
        Granularity = granularity;
        Steps = steps;
    }

    /// <summary>2, 4 or 8.</summary>
    public int Bits { get; }

    /// <summary>Which values share a step.</summary>
    public Granularity Granularity { get; }

    /// <summary>One step per scale group (<see cref="Quantization.Granularity.ScaleIndex"/>): x ≈ q * step.</summary>
    public float[] Steps { get; }

    /// <summary>Writes the dequantized values q * step into <paramref name="destination"/> (at least Rows * Cols long).</summary>
    /// <exception cref="BitNetException"><paramref name="destination"/> is too short (<c>ErrBufferTooSmall</c>).</exception>
    public override void Dequantize(Span<float> destination) =>
        IntQuantizer.DequantizeSymmetric(Codes.Span, Rows, Cols, Bits, Granularity, Steps, destination);
}
