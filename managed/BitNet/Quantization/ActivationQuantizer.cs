using BitNet.Interop;

namespace BitNet.Quantization;

/// <summary>
/// Int8 absmax activation quantization per token (row), exactly HF transformers' BitNet <c>ActQuant</c> in float32
/// (<c>bn_quantize_act_i8</c>), for x of [rows (tokens), cols (features)]:
/// <code>
/// a = 127 / max(max |x_row|, 1e-5)         (the multiplier)
/// q = clamp(round_half_even(x * a), -128, 127)
/// </code>
/// so x ≈ q / a. The row sums of q are what the ternary matmul needs to undo its +1 weight offset.
/// </summary>
public static class ActivationQuantizer
{
    /// <summary>Quantizes a [<paramref name="rows"/>, <paramref name="cols"/>] float32 batch of activations.</summary>
    /// <param name="activations">rows * cols values, token after token.</param>
    /// <param name="rows">Tokens, &gt; 0.</param>
    /// <param name="cols">Features, &gt; 0.</param>
    /// <param name="pool">Where the codes are allocated (default: <see cref="NativeMemoryPool.Shared"/>).</param>
    /// <exception cref="ArgumentException">A non-positive dimension, or <paramref name="activations"/> is not rows * cols long.</exception>
    /// <exception cref="BitNetException">A NaN or infinity (<see cref="BnStatus.ErrNumeric"/>, naming its row and column).</exception>
    public static QuantizedActivations Quantize(ReadOnlySpan<float> activations, int rows, int cols, NativeMemoryPool? pool = null)
    {
        int n = TensorArguments.PositiveCount(rows, cols);
        TensorArguments.RequireLength(activations, n, rows, cols, nameof(activations));
        var codes = (pool ?? NativeMemoryPool.Shared).Allocate<sbyte>(n);
        try
        {
            var scales = new float[rows];
            var sums = new int[rows];
            Quantize(activations, rows, cols, codes.Span, scales, sums);
            return new QuantizedActivations(rows, cols, codes, scales, sums);
        }
        catch
        {
            codes.Dispose();
            throw;
        }
    }

    /// <summary>Quantizes into caller-provided spans (rows or cols may be 0): <paramref name="codes"/> receives rows * cols
    /// int8 values, <paramref name="scales"/> the rows multipliers a and, unless it is empty, <paramref name="rowSums"/>
    /// the rows sums of the codes.</summary>
    /// <exception cref="ArgumentException">A negative dimension, <paramref name="activations"/> not rows * cols long, or a
    /// non-empty <paramref name="rowSums"/> shorter than rows.</exception>
    /// <exception cref="BitNetException"><paramref name="codes"/> or <paramref name="scales"/> too short
    /// (<see cref="BnStatus.ErrBufferTooSmall"/>), a NaN or infinity (<see cref="BnStatus.ErrNumeric"/>).</exception>
    public static unsafe void Quantize(ReadOnlySpan<float> activations, int rows, int cols, Span<sbyte> codes,
                                       Span<float> scales, Span<int> rowSums = default)
    {
        long n = TensorArguments.Count(rows, cols);
        TensorArguments.RequireLength(activations, n, rows, cols, nameof(activations));
        if (!rowSums.IsEmpty && rowSums.Length < rows)
            throw new ArgumentException($"rowSums holds {rowSums.Length} values but there are {rows} rows", nameof(rowSums));
        NativeVersion.EnsureCompatible();
        fixed (float* x = activations)
        fixed (sbyte* q = codes)
        fixed (float* a = scales)
            BitNetException.Check(NativeMethods.bn_quantize_act_i8(x, rows, cols, q, codes.Length, a, scales.Length));
        if (rowSums.IsEmpty) return;
        // bn_quantize_act_i8 does not return the sums (bn_tmatmul_f32 computes its own internally): exact int32 sums here
        for (int r = 0; r < rows; r++) rowSums[r] = SumCodes(codes.Slice(r * cols, cols));
    }

    /// <summary>The exact int32 sum of int8 codes, widened in vector registers (bytes -> shorts -> ints).</summary>
    private static int SumCodes(ReadOnlySpan<sbyte> codes)
    {
        int i = 0;
        var acc = System.Numerics.Vector<int>.Zero;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            int step = System.Numerics.Vector<sbyte>.Count;
            for (; i <= codes.Length - step; i += step)
            {
                System.Numerics.Vector.Widen(new System.Numerics.Vector<sbyte>(codes.Slice(i, step)), out var lo, out var hi);
                System.Numerics.Vector.Widen(lo + hi, out var a, out var b); // |lo + hi| <= 256 fits a short
                acc += a + b;
            }
        }
        int sum = System.Numerics.Vector.Sum(acc);
        for (; i < codes.Length; i++) sum += codes[i];
        return sum;
    }
}
