using BitNet.Interop;

namespace BitNet.Quantization;

/// <summary>
/// Ternary absmean weight quantization, exactly HF transformers' BitNet <c>WeightQuant</c> in float32
/// (<c>bn_quantize_ternary_absmean</c>), per scale group g of a [rows, cols] weight matrix (a row is an output channel):
/// <code>
/// m = mean |W| over g                     (summed in double, rounded once to float)
/// s = 1 / max(m, 1e-5)                    (the multiplier, HF's "scale")
/// q = clamp(round_half_even(W * s), -1, 1)
/// </code>
/// so W ≈ q / s. HF quantizes per tensor; per channel and per group are the same formula over smaller groups.
/// HF's packed checkpoints store <c>weight_scale</c> = 1 / s rounded to bfloat16.
/// </summary>
public static class TernaryQuantizer
{
    /// <summary>Quantizes a [<paramref name="rows"/>, <paramref name="cols"/>] float32 matrix.</summary>
    /// <param name="weights">rows * cols values, row-major.</param>
    /// <param name="rows">Rows (output channels), &gt; 0.</param>
    /// <param name="cols">Columns (input features), &gt; 0.</param>
    /// <param name="granularity">Which values share a scale (default: per tensor, as HF).</param>
    /// <param name="pool">Where the codes are allocated (default: <see cref="NativeMemoryPool.Shared"/>).</param>
    /// <exception cref="ArgumentException">A non-positive dimension, or <paramref name="weights"/> is not rows * cols long.</exception>
    /// <exception cref="BitNetException">A NaN or infinity (<see cref="BnStatus.ErrNumeric"/>, naming its row and column), or
    /// cols not a multiple of the group size (<see cref="BnStatus.ErrShape"/>).</exception>
    public static TernaryWeights Quantize(ReadOnlySpan<float> weights, int rows, int cols, Granularity granularity = default,
                                          NativeMemoryPool? pool = null)
    {
        int n = TensorArguments.PositiveCount(rows, cols);
        TensorArguments.RequireLength(weights, n, rows, cols, nameof(weights));
        int nScales = TensorArguments.Length(granularity.ScaleCount(rows, cols), "the scales");
        var codes = (pool ?? NativeMemoryPool.Shared).Allocate<sbyte>(n);
        try
        {
            float[] scales = new float[nScales];
            Quantize(weights, rows, cols, granularity, codes.Span, scales);
            return new TernaryWeights(rows, cols, granularity, codes, scales);
        }
        catch
        {
            codes.Dispose();
            throw;
        }
    }

    /// <summary>Quantizes an fp16 matrix: the values are widened to float32 (exactly) and quantized as
    /// <see cref="Quantize(ReadOnlySpan{float}, int, int, Granularity, NativeMemoryPool?)"/> does.</summary>
    /// <inheritdoc cref="Quantize(ReadOnlySpan{float}, int, int, Granularity, NativeMemoryPool?)"/>
    public static TernaryWeights Quantize(ReadOnlySpan<Half> weights, int rows, int cols, Granularity granularity = default,
                                          NativeMemoryPool? pool = null)
    {
        int n = TensorArguments.PositiveCount(rows, cols);
        TensorArguments.RequireLength(weights, n, rows, cols, nameof(weights));
        using var wide = (pool ?? NativeMemoryPool.Shared).Allocate<float>(n);
        Span<float> w = wide.Span;
        for (int i = 0; i < w.Length; i++) w[i] = (float)weights[i];
        return Quantize(w, rows, cols, granularity, pool);
    }

    /// <summary>Quantizes a bfloat16 matrix given as its raw 16-bit patterns (the top half of each float32, as
    /// safetensors stores BF16; .NET 10 has no bfloat16 type): widened to float32 (exactly), then quantized as
    /// <see cref="Quantize(ReadOnlySpan{float}, int, int, Granularity, NativeMemoryPool?)"/> does.</summary>
    /// <inheritdoc cref="Quantize(ReadOnlySpan{float}, int, int, Granularity, NativeMemoryPool?)"/>
    public static TernaryWeights QuantizeBFloat16(ReadOnlySpan<ushort> weights, int rows, int cols,
                                                  Granularity granularity = default, NativeMemoryPool? pool = null)
    {
        int n = TensorArguments.PositiveCount(rows, cols);
        TensorArguments.RequireLength(weights, n, rows, cols, nameof(weights));
        using var wide = (pool ?? NativeMemoryPool.Shared).Allocate<float>(n);
        Span<float> w = wide.Span;
        for (int i = 0; i < w.Length; i++) w[i] = BitConverter.Int32BitsToSingle(weights[i] << 16);
        return Quantize(w, rows, cols, granularity, pool);
    }

    /// <summary>Quantizes into caller-provided spans (rows or cols may be 0): <paramref name="codes"/> receives
    /// rows * cols values -1, 0, +1 and <paramref name="scales"/> the <see cref="Granularity.ScaleCount"/> multipliers s.</summary>
    /// <exception cref="ArgumentException">A negative dimension, or <paramref name="weights"/> is not rows * cols long.</exception>
    /// <exception cref="BitNetException"><paramref name="codes"/> or <paramref name="scales"/> too short
    /// (<see cref="BnStatus.ErrBufferTooSmall"/>), a NaN or infinity (<see cref="BnStatus.ErrNumeric"/>), a group size
    /// that does not divide cols (<see cref="BnStatus.ErrShape"/>).</exception>
    public static unsafe void Quantize(ReadOnlySpan<float> weights, int rows, int cols, Granularity granularity,
                                       Span<sbyte> codes, Span<float> scales)
    {
        long n = TensorArguments.Count(rows, cols);
        TensorArguments.RequireLength(weights, n, rows, cols, nameof(weights));
        NativeVersion.EnsureCompatible();
        fixed (float* w = weights)
        fixed (sbyte* q = codes)
        fixed (float* s = scales)
            BitNetException.Check(NativeMethods.bn_quantize_ternary_absmean(w, rows, cols, granularity.Native,
                granularity.GroupSize, q, codes.Length, s, scales.Length));
    }
}
