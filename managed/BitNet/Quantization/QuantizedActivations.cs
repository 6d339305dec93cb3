namespace BitNet.Quantization;

/// <summary>
/// A batch of int8-quantized activations (<see cref="ActivationQuantizer"/>): [rows tokens,
/// cols features] codes in native memory, one multiplier a per token (x ≈ q / a) and the codes' sum per
/// token. Disposing it returns the codes to their pool.
/// </summary>
public sealed class QuantizedActivations : QuantizedTensor<sbyte>
{
    internal QuantizedActivations(int rows, int cols, NativeBuffer<sbyte> codes, float[] scales, int[] rowSums)
        : base(rows, cols, codes)
    {
        Scales = scales;
        RowSums = rowSums;
    }

    /// <summary>The multiplier a of each token: q = round(x * a), so x ≈ q / a.</summary>
    public float[] Scales { get; }

    /// <summary>The sum of each token's codes (the <c>q_sum</c> of <c>bn_tmatmul_i8</c>).</summary>
    public int[] RowSums { get; }

    /// <summary>Writes the dequantized activations q / a into <paramref name="destination"/> (at least Rows * Cols long).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public override void Dequantize(Span<float> destination)
    {
        CheckDestination(destination, "activations");
        ReadOnlySpan<sbyte> q = Codes.Span;
        for (int r = 0; r < Rows; r++)
        {
            float a = Scales[r];
            for (int i = r * Cols; i < (r + 1) * Cols; i++) destination[i] = q[i] / a;
        }
    }
}
