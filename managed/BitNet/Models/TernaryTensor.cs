using BitNet.Quantization;

namespace BitNet.Models;

/// <summary>Reads a tensor's stored bytes from the file that holds them (a span over the mapping, never a copy).</summary>
internal delegate ReadOnlySpan<byte> StoredBytes();

/// <summary>
/// One ternary projection of a BitNet layer (q, k, v, o, gate, up, down) in the one form every file layout loads to:
/// a [<see cref="Rows"/> = out, <see cref="Cols"/> = in] matrix W ≈ codes * <see cref="Scale"/>, codes in {-1, 0, +1}
/// with one scale per tensor. Where the file stores the codes packed (HF 2B4T U8, TQ1_0, TQ2_0, I2_S),
/// <see cref="PackedBytes"/> are those bytes straight from the memory-mapped file and the codes are unpacked on
/// request; where it stores floats (HF master weights, GGUF F32/F16 ternary×s) the codes were computed at load.
/// Valid until the <see cref="BitNetModelFile"/> it came from is disposed.
/// </summary>
public sealed class TernaryTensor
{
    private readonly StoredBytes? _packed;
    private readonly sbyte[]? _codes;

    internal TernaryTensor(string name, int rows, int cols, float scale, string storedType, PackedFormat? format, StoredBytes? packed,
                           sbyte[]? codes)
    {
        Name = name;
        Rows = rows;
        Cols = cols;
        Scale = scale;
        StoredType = storedType;
        PackedFormat = format;
        _packed = packed;
        _codes = codes;
    }

    /// <summary>The tensor's name in its file ("model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight").</summary>
    public string Name { get; }

    /// <summary>Output features.</summary>
    public int Rows { get; }

    /// <summary>Input features.</summary>
    public int Cols { get; }

    /// <summary>The dequantization scale w: W ≈ codes * w (HF autobitlinear's <c>weight_scale</c> = mean|W|; the
    /// reciprocal of HF's online multiplier s; TQ's block d; I2_S's fp32 scale).</summary>
    public float Scale { get; }

    /// <summary>How the file stores the tensor ("U8 (HF_2B4T)", "TQ2_0", "I2_S_X86", "F32", "BF16", ...).</summary>
    public string StoredType { get; }

    /// <summary>The packed format of <see cref="PackedBytes"/>, or null when the file stores floats.</summary>
    public PackedFormat? PackedFormat { get; }

    /// <summary>The stored packed bytes (empty when <see cref="PackedFormat"/> is null): a view of the mapped file, no copy.</summary>
    public ReadOnlySpan<byte> PackedBytes => _packed is null ? default : _packed();

    /// <summary>Writes the Rows * Cols codes, row-major, into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than Rows * Cols.</exception>
    public void CopyCodes(Span<sbyte> destination)
    {
        int n = checked(Rows * Cols);
        if (destination.Length < n)
            throw new ArgumentException($"destination holds {destination.Length} codes but {Rows} x {Cols} needs {n}", nameof(destination));
        if (_codes is not null)
        {
            _codes.CopyTo(destination);
            return;
        }
        var format = PackedFormat!;
        var scales = new float[format.ScaleCount(Rows, Cols)];
        format.Unpack(PackedBytes, Rows, Cols, destination[..n], scales);
    }

    /// <summary>The Rows * Cols codes, row-major, in a new array.</summary>
    public sbyte[] GetCodes()
    {
        var codes = new sbyte[checked(Rows * Cols)];
        CopyCodes(codes);
        return codes;
    }

    /// <summary>"q_proj.weight [2560, 2560] TQ2_0 w=0.0123".</summary>
    public override string ToString() => $"{Name} [{Rows}, {Cols}] {StoredType} w={Scale}";
}
