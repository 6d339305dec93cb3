using BitNet.Interop;

namespace BitNet.Quantization;

/// <summary>
/// Symmetric and asymmetric (affine) integer quantization to 2, 4 or 8 bits, per tensor, channel or group
/// (<c>bn_quantize_sym</c> / <c>bn_quantize_asym</c>), with float32 arithmetic and round-half-to-even. Scales here are
/// steps (the usual int-N convention): x ≈ q * step.
/// <list type="bullet">
/// <item>Symmetric, qmax = 2^(bits-1) - 1 (1, 7, 127): step = max|x| / qmax, q = clamp(round(x / step), -qmax, qmax).
/// The level -2^(bits-1) is never used, so 2 bits is -1, 0, +1.</item>
/// <item>Asymmetric, L = 2^bits - 1 (3, 15, 255): the range [min(min x, 0), max(max x, 0)] always holds 0, step = range / L,
/// zero point zp = clamp(round(-lo / step), 0, L), q = clamp(round(x / step) + zp, 0, L), x ≈ (q - zp) * step.</item>
/// </list>
/// A group of zeros gets step 0 (and zero point 0) and codes 0.
/// </summary>
public static class IntQuantizer
{
    /// <summary>Symmetric quantization of a [<paramref name="rows"/>, <paramref name="cols"/>] float32 tensor.</summary>
    /// <param name="values">rows * cols values, row-major.</param>
    /// <param name="rows">Rows, &gt; 0.</param>
    /// <param name="cols">Columns, &gt; 0.</param>
    /// <param name="bits">2, 4 or 8.</param>
    /// <param name="granularity">Which values share a step (default: per tensor).</param>
    /// <param name="pool">Where the codes are allocated (default: <see cref="NativeMemoryPool.Shared"/>).</param>
    /// <exception cref="ArgumentException">A non-positive dimension, or <paramref name="values"/> is not rows * cols long.</exception>
    /// <exception cref="BitNetException">bits not 2, 4 or 8 (<see cref="BnStatus.ErrInvalidArgument"/>), a NaN or infinity
    /// (<see cref="BnStatus.ErrNumeric"/>), a group size that does not divide cols (<see cref="BnStatus.ErrShape"/>).</exception>
    public static SymmetricQuantized QuantizeSymmetric(ReadOnlySpan<float> values, int rows, int cols, int bits,
                                                       Granularity granularity = default, NativeMemoryPool? pool = null)
    {
        int n = TensorArguments.PositiveCount(rows, cols);
        TensorArguments.RequireLength(values, n, rows, cols, nameof(values));
        int nSteps = TensorArguments.Length(granularity.ScaleCount(rows, cols), "the steps");
        var codes = (pool ?? NativeMemoryPool.Shared).Allocate<sbyte>(n);
        try
        {
            var steps = new float[nSteps];
            QuantizeSymmetric(values, rows, cols, bits, granularity, codes.Span, steps);
            return new SymmetricQuantized(rows, cols, bits, granularity, codes, steps);
        }
        catch
        {
            codes.Dispose();
            throw;
        }
    }

    /// <summary>Symmetric quantization into caller-provided spans (rows or cols may be 0).</summary>
    /// <exception cref="ArgumentException">A negative dimension, or <paramref name="values"/> is not rows * cols long.</exception>
    /// <exception cref="BitNetException"><paramref name="codes"/> or <paramref name="steps"/> too short
    /// (<see cref="BnStatus.ErrBufferTooSmall"/>), and the failures of the allocating overload.</exception>
    public static unsafe void QuantizeSymmetric(ReadOnlySpan<float> values, int rows, int cols, int bits, Granularity granularity,
                                                Span<sbyte> codes, Span<float> steps)
    {
        long n = TensorArguments.Count(rows, cols);
        TensorArguments.RequireLength(values, n, rows, cols, nameof(values));
        NativeVersion.EnsureCompatible();
        fixed (float* x = values)
        fixed (sbyte* q = codes)
        fixed (float* s = steps)
            BitNetException.Check(NativeMethods.bn_quantize_sym(x, rows, cols, bits, granularity.Native, granularity.GroupSize,
                q, codes.Length, s, steps.Length));
    }

    /// <summary>Writes codes * step into <paramref name="destination"/> (<c>bn_dequantize_sym</c>).</summary>
    /// <exception cref="ArgumentException">A negative dimension, or <paramref name="codes"/> is not rows * cols long.</exception>
    /// <exception cref="BitNetException">A code outside -qmax..qmax (<see cref="BnStatus.ErrInvalidArgument"/>, naming its index),
    /// a negative or non-finite step (<see cref="BnStatus.ErrNumeric"/>), <paramref name="steps"/> or
    /// <paramref name="destination"/> too short (<see cref="BnStatus.ErrBufferTooSmall"/>).</exception>
    public static unsafe void DequantizeSymmetric(ReadOnlySpan<sbyte> codes, int rows, int cols, int bits, Granularity granularity,
                                                  ReadOnlySpan<float> steps, Span<float> destination)
    {
        long n = TensorArguments.Count(rows, cols);
        TensorArguments.RequireLength(codes, n, rows, cols, nameof(codes));
        NativeVersion.EnsureCompatible();
        fixed (sbyte* q = codes)
        fixed (float* s = steps)
        fixed (float* x = destination)
            BitNetException.Check(NativeMethods.bn_dequantize_sym(q, rows, cols, bits, granularity.Native, granularity.GroupSize,
                s, steps.Length, x, destination.Length));
    }

    /// <summary>Asymmetric (affine) quantization of a [<paramref name="rows"/>, <paramref name="cols"/>] float32 tensor.</summary>
    /// <inheritdoc cref="QuantizeSymmetric(ReadOnlySpan{float}, int, int, int, Granularity, NativeMemoryPool?)"/>
    public static AsymmetricQuantized QuantizeAsymmetric(ReadOnlySpan<float> values, int rows, int cols, int bits,
                                                         Granularity granularity = default, NativeMemoryPool? pool = null)
    {
        int n = TensorArguments.PositiveCount(rows, cols);
        TensorArguments.RequireLength(values, n, rows, cols, nameof(values));
        int nSteps = TensorArguments.Length(granularity.ScaleCount(rows, cols), "the steps");
        var codes = (pool ?? NativeMemoryPool.Shared).Allocate<byte>(n);
        try
        {
            var steps = new float[nSteps];
            var zeroPoints = new int[nSteps];
            QuantizeAsymmetric(values, rows, cols, bits, granularity, codes.Span, steps, zeroPoints);
            return new AsymmetricQuantized(rows, cols, bits, granularity, codes, steps, zeroPoints);
        }
        catch
        {
            codes.Dispose();
            throw;
        }
    }

    /// <summary>Asymmetric quantization into caller-provided spans (rows or cols may be 0); <paramref name="steps"/> and
    /// <paramref name="zeroPoints"/> have the same length.</summary>
    /// <exception cref="ArgumentException">A negative dimension, <paramref name="values"/> not rows * cols long, or
    /// <paramref name="steps"/> and <paramref name="zeroPoints"/> of different lengths.</exception>
    /// <exception cref="BitNetException"><paramref name="codes"/> or <paramref name="steps"/> too short
    /// (<see cref="BnStatus.ErrBufferTooSmall"/>), and the failures of the allocating overload.</exception>
    public static unsafe void QuantizeAsymmetric(ReadOnlySpan<float> values, int rows, int cols, int bits, Granularity granularity,
                                                 Span<byte> codes, Span<float> steps, Span<int> zeroPoints)
    {
        long n = TensorArguments.Count(rows, cols);
        TensorArguments.RequireLength(values, n, rows, cols, nameof(values));
        RequireSameLength(steps.Length, zeroPoints.Length);
        NativeVersion.EnsureCompatible();
        fixed (float* x = values)
        fixed (byte* q = codes)
        fixed (float* s = steps)
        fixed (int* z = zeroPoints)
            BitNetException.Check(NativeMethods.bn_quantize_asym(x, rows, cols, bits, granularity.Native, granularity.GroupSize,
                q, codes.Length, s, z, steps.Length));
    }

    /// <summary>Writes (codes - zero point) * step into <paramref name="destination"/> (<c>bn_dequantize_asym</c>).</summary>
    /// <exception cref="ArgumentException">A negative dimension, <paramref name="codes"/> not rows * cols long, or
    /// <paramref name="steps"/> and <paramref name="zeroPoints"/> of different lengths.</exception>
    /// <exception cref="BitNetException">A code above 2^bits - 1 or a zero point outside 0..2^bits - 1
    /// (<see cref="BnStatus.ErrInvalidArgument"/>), a negative or non-finite step (<see cref="BnStatus.ErrNumeric"/>),
    /// <paramref name="steps"/> or <paramref name="destination"/> too short (<see cref="BnStatus.ErrBufferTooSmall"/>).</exception>
    public static unsafe void DequantizeAsymmetric(ReadOnlySpan<byte> codes, int rows, int cols, int bits, Granularity granularity,
                                                   ReadOnlySpan<float> steps, ReadOnlySpan<int> zeroPoints, Span<float> destination)
    {
        long n = TensorArguments.Count(rows, cols);
        TensorArguments.RequireLength(codes, n, rows, cols, nameof(codes));
        RequireSameLength(steps.Length, zeroPoints.Length);
        NativeVersion.EnsureCompatible();
        fixed (byte* q = codes)
        fixed (float* s = steps)
        fixed (int* z = zeroPoints)
        fixed (float* x = destination)
            BitNetException.Check(NativeMethods.bn_dequantize_asym(q, rows, cols, bits, granularity.Native, granularity.GroupSize,
                s, z, steps.Length, x, destination.Length));
    }

    // libbitnet reads steps and zero points up to one length: a shorter second span would be read past its end
    private static void RequireSameLength(int steps, int zeroPoints)
    {
        if (steps != zeroPoints)
            throw new ArgumentException($"steps ({steps} values) and zeroPoints ({zeroPoints} values) must have the same length",
                nameof(zeroPoints));
    }
}
