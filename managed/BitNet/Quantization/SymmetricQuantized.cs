namespace BitNet.Quantization;

/// <summary>
/// A symmetrically int-N quantized [<see cref="Rows"/>, <see cref="Cols"/>] tensor (<see cref="IntQuantizer"/>): codes in
/// -qmax..qmax (qmax = 2^(bits-1) - 1) in native memory and one step per scale group, x ≈ q * step. Disposing it returns
/// the codes to their pool.
/// </summary>
public sealed class SymmetricQuantized : IDisposable
{
    internal SymmetricQuantized(int rows, int cols, int bits, Granularity granularity, NativeBuffer<sbyte> codes, float[] steps)
    {
        Rows = rows;
        Cols = cols;
        Bits = bits;
        Granularity = granularity;
        Codes = codes;
        Steps = steps;
    }

    /// <summary>Rows.</summary>
    public int Rows { get; }

    /// <summary>Columns.</summary>
    public int Cols { get; }

    /// <summary>2, 4 or 8.</summary>
    public int Bits { get; }

    /// <summary>Which values share a step.</summary>
    public Granularity Granularity { get; }

    /// <summary>Rows * Cols codes, row-major.</summary>
    public NativeBuffer<sbyte> Codes { get; }

    /// <summary>One step per scale group (<see cref="Quantization.Granularity.ScaleIndex"/>): x ≈ q * step.</summary>
    public float[] Steps { get; }

    /// <summary>The dequantized values q * step.</summary>
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

    /// <summary>Writes the dequantized values q * step into <paramref name="destination"/> (at least Rows * Cols long).</summary>
    /// <exception cref="BitNetException"><paramref name="destination"/> is too short (<c>ErrBufferTooSmall</c>).</exception>
    public void Dequantize(Span<float> destination) =>
        IntQuantizer.DequantizeSymmetric(Codes.Span, Rows, Cols, Bits, Granularity, Steps, destination);

    /// <summary>Returns the codes to their pool.</summary>
    public void Dispose() => Codes.Dispose();
}
