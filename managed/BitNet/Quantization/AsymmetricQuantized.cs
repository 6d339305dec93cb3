namespace BitNet.Quantization;

/// <summary>
/// An asymmetrically (affine) int-N quantized [<see cref="Rows"/>, <see cref="Cols"/>] tensor (<see cref="IntQuantizer"/>):
/// codes in 0..2^bits - 1 in native memory, one step and one zero point per scale group, x ≈ (q - zero point) * step.
/// Disposing it returns the codes to their pool.
/// </summary>
public sealed class AsymmetricQuantized : IDisposable
{
    internal AsymmetricQuantized(int rows, int cols, int bits, Granularity granularity, NativeBuffer<byte> codes, float[] steps,
                                 int[] zeroPoints)
    {
        Rows = rows;
        Cols = cols;
        Bits = bits;
        Granularity = granularity;
        Codes = codes;
        Steps = steps;
        ZeroPoints = zeroPoints;
    }

    /// <summary>Rows.</summary>
    public int Rows { get; }

    /// <summary>Columns.</summary>
    public int Cols { get; }

    /// <summary>2, 4 or 8.</summary>
    public int Bits { get; }

    /// <summary>Which values share a step and zero point.</summary>
    public Granularity Granularity { get; }

    /// <summary>Rows * Cols codes, row-major.</summary>
    public NativeBuffer<byte> Codes { get; }

    /// <summary>One step per scale group (<see cref="Quantization.Granularity.ScaleIndex"/>).</summary>
    public float[] Steps { get; }

    /// <summary>One zero point per scale group: the code of 0.0, exact.</summary>
    public int[] ZeroPoints { get; }

    /// <summary>The dequantized values (q - zero point) * step.</summary>
    public NativeBuffer<float> Dequantize(NativeMemoryPool? pool = null)
    {
        var result = (pool ?? NativeMemoryPool.Shared).Allocate<float>(Rows * Cols);
        try
        {
            Dequantize(result.Span);
        }
        catch
        {
            result.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>Writes the dequantized values into <paramref name="destination"/> (at least Rows * Cols long).</summary>
    /// <exception cref="BitNetException"><paramref name="destination"/> is too short (<c>ErrBufferTooSmall</c>).</exception>
    public void Dequantize(Span<float> destination) =>
        IntQuantizer.DequantizeAsymmetric(Codes.Span, Rows, Cols, Bits, Granularity, Steps, ZeroPoints, destination);

    /// <summary>Returns the codes to their pool.</summary>
    public void Dispose() => Codes.Dispose();
}
