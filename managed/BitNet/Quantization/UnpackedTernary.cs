namespace BitNet.Quantization;

/// <summary>
/// Packed ternary weights taken apart (<see cref="PackedFormat.Unpack(ReadOnlySpan{byte}, int, int, NativeMemoryPool?)"/>):
/// codes -1, 0, +1 in native memory and the format's own dequantization scales, w = code * scale. Disposing it returns
/// the codes to their pool.
/// </summary>
public sealed class UnpackedTernary : IDisposable
{
    internal UnpackedTernary(PackedFormat format, int rows, int cols, NativeBuffer<sbyte> codes, float[] scales)
    {
        Format = format;
        Rows = rows;
        Cols = cols;
        Codes = codes;
        Scales = scales;
    }

    /// <summary>The format the bytes were in.</summary>
    public PackedFormat Format { get; }

    /// <summary>Rows (output channels).</summary>
    public int Rows { get; }

    /// <summary>Columns (input features).</summary>
    public int Cols { get; }

    /// <summary>Rows * Cols codes -1, 0, +1, row-major.</summary>
    public NativeBuffer<sbyte> Codes { get; }

    /// <summary>The dequantization scales in the bytes (w = code * scale; the reciprocal of a
    /// <see cref="TernaryWeights"/> multiplier): none for <see cref="ScalePlacement.Outside"/>, one for
    /// <see cref="ScalePlacement.PerTensor"/>, one per block (in memory order) for <see cref="ScalePlacement.PerBlock"/>.</summary>
    public float[] Scales { get; }

    /// <summary>Returns the codes to their pool.</summary>
    public void Dispose() => Codes.Dispose();
}
