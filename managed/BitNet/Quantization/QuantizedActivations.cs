namespace BitNet.Quantization;

/// <summary>
/// A batch of int8-quantized activations (<see cref="ActivationQuantizer"/>): [<see cref="Rows"/> tokens,
/// <see cref="Cols"/> features] codes in native memory, one multiplier a per token (x ≈ q / a) and the codes' sum per
/// token. Disposing it returns the codes to their pool.
/// </summary>
public sealed class QuantizedActivations : IDisposable
{
    internal QuantizedActivations(int rows, int cols, NativeBuffer<sbyte> codes, float[] scales, int[] rowSums)
    {
        Rows = rows;
        Cols = cols;
        Codes = codes;
        Scales = scales;
        RowSums = rowSums;
    }

    /// <summary>Tokens.</summary>
    public int Rows { get; }

    /// <summary>Features per token.</summary>
    public int Cols { get; }

    /// <summary>Rows * Cols codes in -128..127, token after token.</summary>
    public NativeBuffer<sbyte> Codes { get; }

    /// <summary>The multiplier a of each token: q = round(x * a), so x ≈ q / a.</summary>
    public float[] Scales { get; }

    /// <summary>The sum of each token's codes (the <c>q_sum</c> of <c>bn_tmatmul_i8</c>).</summary>
    public int[] RowSums { get; }

    /// <summary>The dequantized activations q / a.</summary>
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

    /// <summary>Writes the dequantized activations q / a into <paramref name="destination"/> (at least Rows * Cols long).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public void Dequantize(Span<float> destination)
    {
        int n = Rows * Cols;
        if (destination.Length < n)
            throw new ArgumentException($"destination holds {destination.Length} values but {Rows} x {Cols} activations need {n}",
                nameof(destination));
        ReadOnlySpan<sbyte> q = Codes.Span;
        for (int r = 0; r < Rows; r++)
        {
            float a = Scales[r];
            for (int i = r * Cols; i < (r + 1) * Cols; i++) destination[i] = q[i] / a;
        }
    }

    /// <summary>Returns the codes to their pool.</summary>
    public void Dispose() => Codes.Dispose();
}
