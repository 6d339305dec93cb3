using BitNet.Interop;

namespace BitNet.Quantization;

/// <summary>
/// A ternary-quantized [rows, cols] weight matrix (<see cref="TernaryQuantizer"/>): codes
/// -1, 0, +1 in native memory and one multiplier s per scale group, in HF's convention: W ≈ q / s. Disposing it
/// returns the codes to their pool.
/// </summary>
public sealed class TernaryWeights : QuantizedTensor<sbyte>
{
    internal TernaryWeights(int rows, int cols, Granularity granularity, NativeBuffer<sbyte> codes, float[] scales)
        : base(rows, cols, codes)
    {
        Granularity = granularity;
        Scales = scales;
    }

    /// <summary>Which values share a scale.</summary>
    public Granularity Granularity { get; }

    /// <summary>The multipliers s, one per scale group (<see cref="Quantization.Granularity.ScaleIndex"/>): q = round(W * s),
    /// so W ≈ q / s. HF checkpoints store 1 / s (rounded to bfloat16) as <c>weight_scale</c>.</summary>
    public float[] Scales { get; }

    /// <summary>Writes the dequantized weights q / s into <paramref name="destination"/> (at least Rows * Cols long).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public override void Dequantize(Span<float> destination)
    {
        CheckDestination(destination, "weights");
        ReadOnlySpan<sbyte> q = Codes.Span;
        int run = (int)Granularity.RunLength(Rows, Cols);
        for (int g = 0; g < Scales.Length; g++)
        {
            float s = Scales[g];
            for (int i = g * run; i < (g + 1) * run; i++) destination[i] = q[i] / s;
        }
    }

    /// <summary>
    /// Packs the codes into <paramref name="format"/> with the dequantization scale(s) 1 / s that it keeps:
    /// per tensor, 1 / s itself (for the TQ formats this is byte for byte what ggml writes for the floats q / s); a
    /// per-block format from per-channel or per-group weights gets each block the 1 / s of the group it lies in (the
    /// group length must be a multiple of the block); a per-tensor format needs all scales equal. A format that keeps
    /// its scale outside (<see cref="PackedFormat.Hf2B4T"/>) stores none: keep <see cref="Scales"/> beside it.
    /// </summary>
    /// <exception cref="ArgumentException">The scales cannot be expressed in the format.</exception>
    /// <exception cref="BitNetException">The shape does not fit the format (<see cref="BnStatus.ErrShape"/>), or a scale does
    /// not fit its storage (<see cref="BnStatus.ErrNumeric"/>).</exception>
    public NativeBuffer<byte> Pack(PackedFormat format, NativeMemoryPool? pool = null)
    {
        ArgumentNullException.ThrowIfNull(format);
        return format.Pack(Codes.Span, Rows, Cols, DequantizationScalesFor(format), pool);
    }

    private float[] DequantizationScalesFor(PackedFormat format)
    {
        if (Granularity.Kind == GranularityKind.Tensor || format.ScalePlacement == ScalePlacement.Outside)
            return [1f / Scales[0]];
        if (format.ScalePlacement == ScalePlacement.PerTensor)
        {
            if (Scales.Any(s => s != Scales[0]))
                throw new ArgumentException(
                    $"{format.Name} holds one scale per tensor, but these {Granularity} weights have {Scales.Length} scales that differ",
                    nameof(format));
            return [1f / Scales[0]];
        }
        long run = Granularity.RunLength(Rows, Cols);
        if (Cols % format.BlockSize != 0) return [1f / Scales[0]]; // the shape is refused by the format, which says why
        if (run % format.BlockSize != 0)
            throw new ArgumentException(
                $"{Granularity} scale groups of {run} values do not line up with {format.Name}'s blocks of {format.BlockSize}",
                nameof(format));
        var d = new float[(long)Rows * Cols / format.BlockSize];
        for (long b = 0; b < d.Length; b++) d[b] = 1f / Scales[b * format.BlockSize / run];
        return d;
    }
}
