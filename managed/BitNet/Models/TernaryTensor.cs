using System.Buffers.Binary;
using BitNet.Interop;
using BitNet.Quantization;

namespace BitNet.Models;

/// <summary>Reads a tensor's stored bytes from the file that holds them (a span over the mapping, never a copy).</summary>
internal delegate ReadOnlySpan<byte> StoredBytes();

/// <summary>
/// One ternary projection of a BitNet layer (q, k, v, o, gate, up, down) in the one form every file layout loads to:
/// a [<see cref="Rows"/> = out, <see cref="Cols"/> = in] matrix W ≈ codes * <see cref="Scale"/>, codes in {-1, 0, +1}
/// with one scale per tensor. Where the file stores the codes packed (HF 2B4T U8, TQ1_0, TQ2_0, I2_S),
/// <see cref="PackedBytes"/> are those bytes straight from the memory-mapped file and the codes are unpacked on
/// request; where it stores floats (HF master weights, GGUF F32/F16 ternary×s) the codes are computed on first use.
/// Opening a model reads no tensor data: the scale and the codes are read when first asked for, or when the tensor is
/// converted (<see cref="ConvertTo(PackedFormat, NativeMemoryPool?)"/>), which checks a TQ tensor's block scales in the
/// same pass. Valid until the <see cref="BitNetModelFile"/> it came from is disposed.
/// </summary>
public sealed class TernaryTensor
{
    private readonly string _filePath;
    private readonly StoredBytes? _packed;
    private readonly Func<float>? _readScale;
    private readonly Func<(sbyte[] Codes, float Scale)>? _decode;
    private readonly object _gate = new();
    private sbyte[]? _codes;
    private float _scale;
    private volatile bool _scaleKnown;

    /// <summary>A packed tensor. <paramref name="readScale"/> reads its scale from the file (I2_S's fp32, HF's
    /// weight_scale); null for the per-block TQ formats, whose one d is checked across every block on first use.</summary>
    internal TernaryTensor(string filePath, string name, int rows, int cols, string storedType, PackedFormat format,
                           StoredBytes packed, Func<float>? readScale)
        : this(filePath, name, rows, cols, storedType)
    {
        PackedFormat = format;
        _packed = packed;
        _readScale = readScale;
        if (readScale is null && format.ScalePlacement != ScalePlacement.PerBlock)
            throw new ArgumentException($"{format.Name} keeps one scale per tensor: give the call that reads it", nameof(readScale));
    }

    /// <summary>A tensor stored as floats: <paramref name="decode"/> ternarizes it (codes and scale) on first use.</summary>
    internal TernaryTensor(string filePath, string name, int rows, int cols, string storedType, Func<(sbyte[] Codes, float Scale)> decode)
        : this(filePath, name, rows, cols, storedType)
    {
        _decode = decode;
    }

    private TernaryTensor(string filePath, string name, int rows, int cols, string storedType)
    {
        _filePath = filePath;
        Name = name;
        Rows = rows;
        Cols = cols;
        StoredType = storedType;
    }

    /// <summary>The tensor's name in its file ("model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight").</summary>
    public string Name { get; }

    /// <summary>Output features.</summary>
    public int Rows { get; }

    /// <summary>Input features.</summary>
    public int Cols { get; }

    /// <summary>The dequantization scale w: W ≈ codes * w (HF autobitlinear's <c>weight_scale</c> = mean|W|; the
    /// reciprocal of HF's online multiplier s; TQ's block d; I2_S's fp32 scale). Read from the file on first use.</summary>
    /// <exception cref="ModelFormatException">The stored scale is not a finite non-negative number, or (TQ1_0/TQ2_0) the
    /// blocks that hold nonzero codes carry different d: per-block scales are not per-tensor ternary weights.</exception>
    public float Scale
    {
        get
        {
            if (!_scaleKnown) ResolveScale();
            return _scale;
        }
    }

    /// <summary>How the file stores the tensor ("U8 (HF_2B4T)", "TQ2_0", "I2_S_X86", "F32", "BF16", ...).</summary>
    public string StoredType { get; }

    /// <summary>The packed format of <see cref="PackedBytes"/>, or null when the file stores floats.</summary>
    public PackedFormat? PackedFormat { get; }

    /// <summary>The stored packed bytes (empty when <see cref="PackedFormat"/> is null): a view of the mapped file, no copy.</summary>
    public ReadOnlySpan<byte> PackedBytes => _packed is null ? default : _packed();

    /// <summary>Writes the Rows * Cols codes, row-major, into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than Rows * Cols.</exception>
    /// <exception cref="ModelFormatException">The stored bytes are not valid (as <see cref="Scale"/>, or bytes no packer writes).</exception>
    public void CopyCodes(Span<sbyte> destination)
    {
        int n = checked(Rows * Cols);
        if (destination.Length < n)
            throw new ArgumentException($"destination holds {destination.Length} codes but {Rows} x {Cols} needs {n}", nameof(destination));
        if (_decode is not null)
        {
            Decoded().CopyTo(destination);
            return;
        }
        // One pass over the stored bytes: the codes and the format's own scales, which settle Scale when it is not known yet.
        PackedFormat format = PackedFormat!;
        var scales = new float[format.ScaleCount(Rows, Cols)];
        Unpack(format, destination[..n], scales);
        if (_scaleKnown) return;
        float scale = format.ScalePlacement == ScalePlacement.PerBlock
            ? SharedBlockScale(destination[..n], scales, format.BlockSize)
            : _readScale!();
        Publish(scale);
    }

    /// <summary>The Rows * Cols codes, row-major, in a new array.</summary>
    /// <inheritdoc cref="CopyCodes"/>
    public sbyte[] GetCodes()
    {
        var codes = new sbyte[checked(Rows * Cols)];
        CopyCodes(codes);
        return codes;
    }

    /// <summary>The tensor in the ternary packed format <paramref name="to"/> with its one scale, converted from the stored
    /// bytes in one pass that also checks them: this is where a TQ tensor whose blocks carry different d is refused.</summary>
    /// <param name="to">A ternary format that keeps one scale per tensor or per block (I2_S, TQ1_0, TQ2_0), or HF_2B4T
    /// (whose scale stays outside: <see cref="Scale"/>).</param>
    /// <param name="pool">Where the bytes are allocated (default <see cref="NativeMemoryPool.Shared"/>).</param>
    /// <exception cref="ModelFormatException">As <see cref="Scale"/> and <see cref="CopyCodes"/>.</exception>
    /// <exception cref="BitNetException">A shape that <paramref name="to"/> cannot hold (<see cref="BnStatus.ErrShape"/>).</exception>
    public NativeBuffer<byte> ConvertTo(PackedFormat to, NativeMemoryPool? pool = null)
    {
        ArgumentNullException.ThrowIfNull(to);
        var dst = (pool ?? NativeMemoryPool.Shared).Allocate<byte>(checked((int)to.PackedSize(Rows, Cols)));
        try
        {
            ConvertTo(to, dst.Span);
        }
        catch
        {
            dst.Dispose();
            throw;
        }
        return dst;
    }

    /// <summary>Converts into <paramref name="destination"/> (at least <c>to.PackedSize(Rows, Cols)</c> bytes) and returns
    /// the bytes written.</summary>
    /// <inheritdoc cref="ConvertTo(PackedFormat, NativeMemoryPool?)"/>
    public int ConvertTo(PackedFormat to, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(to);
        if (PackedFormat is not { IsTernary: true } from)
        {
            sbyte[] codes = _decode is not null ? Decoded() : GetCodes();
            return to.Pack(codes, Rows, Cols, to.ScalePlacement == ScalePlacement.Outside ? default : [Scale], destination);
        }
        bool checkedByConvert = from.ScalePlacement == ScalePlacement.PerBlock && to.ScalePlacement == ScalePlacement.PerTensor;
        // block for block (TQ -> TQ) and out of per-block d into none keep every d without comparing them: check first
        if (from.ScalePlacement == ScalePlacement.PerBlock && !checkedByConvert && !_scaleKnown) ResolveScale();
        int written;
        try
        {
            // per-block d into one tensor scale: bn_format_convert compares the d of every block that holds a nonzero code
            written = from.ScalePlacement == ScalePlacement.Outside
                ? from.Convert(PackedBytes, Rows, Cols, to, Scale, destination)
                : from.Convert(PackedBytes, Rows, Cols, to, destination);
        }
        catch (BitNetException e) when (e is not ModelFormatException)
        {
            // the same error as Scale gives (naming the two blocks), from a pass over the codes; else the native one
            if (checkedByConvert && e.Status == BnStatus.ErrUnsupported) ResolveScale();
            throw new ModelFormatException(_filePath, $"tensor '{Name}': {e.NativeMessage}", e);
        }
        if (checkedByConvert && !_scaleKnown) Publish(ReadI2SScale(destination, to));
        return written;
    }

    /// <summary>"q_proj.weight [2560, 2560] TQ2_0".</summary>
    public override string ToString() => $"{Name} [{Rows}, {Cols}] {StoredType}";

    /// <summary>The fp32 tensor scale of I2_S bytes (either layout): at byte n/4, after the 2-bit codes (BITNET_FACTS.md).</summary>
    internal static float ReadI2SScale(ReadOnlySpan<byte> bytes, long rows, long cols) =>
        BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(checked((int)(rows * cols / 4)), 4));

    private float ReadI2SScale(ReadOnlySpan<byte> bytes, PackedFormat format)
    {
        if (format != Quantization.PackedFormat.I2SX86 && format != Quantization.PackedFormat.I2SArm)
            throw new NotSupportedException($"reading the tensor scale of {format.Name} bytes");
        return ReadI2SScale(bytes, Rows, Cols);
    }

    private void ResolveScale()
    {
        lock (_gate)
        {
            if (_scaleKnown) return;
            if (_decode is not null)
            {
                Decoded();
                return;
            }
            if (_readScale is not null)
            {
                Publish(_readScale());
                return;
            }
            // TQ: every block's d, compared over the blocks that hold a nonzero code: read in place by the native
            // library, a row of codes at a time. Only when two blocks differ does a pass over all the codes name them.
            PackedFormat format = PackedFormat!;
            if (TryReadSharedBlockScale(format, out float shared))
            {
                Publish(shared);
                return;
            }
            var codes = new sbyte[checked(Rows * Cols)];
            var scales = new float[format.ScaleCount(Rows, Cols)];
            Unpack(format, codes, scales);
            Publish(SharedBlockScale(codes, scales, format.BlockSize));
        }
    }

    // bn_format_tensor_scale over the stored bytes: false when blocks with nonzero codes carry different d (the caller
    // then names them), a ModelFormatException for bytes no packer writes (a non-finite d).
    private unsafe bool TryReadSharedBlockScale(PackedFormat format, out float scale)
    {
        ReadOnlySpan<byte> bytes = PackedBytes;
        float s = 0;
        BnStatus status;
        fixed (byte* p = bytes)
            status = NativeMethods.bn_format_tensor_scale(format.Id, p, bytes.Length, Rows, Cols, &s);
        scale = s;
        if (status == BnStatus.Ok) return true;
        if (status == BnStatus.ErrUnsupported) return false;
        BitNetException e = BitNetException.FromLastError(status);
        if (status is BnStatus.ErrFormat or BnStatus.ErrNumeric)
            throw new ModelFormatException(_filePath, $"tensor '{Name}': {e.NativeMessage}", e);
        throw e;
    }

    private void Publish(float scale)
    {
        lock (_gate)
        {
            if (_scaleKnown) return;
            _scale = scale;
            _scaleKnown = true;
        }
    }

    private sbyte[] Decoded()
    {
        lock (_gate)
        {
            if (_codes is null)
            {
                (sbyte[] codes, float scale) = _decode!();
                _codes = codes;
                _scale = scale;
                _scaleKnown = true;
            }
            return _codes;
        }
    }

    private void Unpack(PackedFormat format, Span<sbyte> codes, Span<float> scales)
    {
        try
        {
            format.Unpack(PackedBytes, Rows, Cols, codes, scales);
        }
        catch (BitNetException e) when (e is not ModelFormatException && e.Status is BnStatus.ErrFormat or BnStatus.ErrNumeric)
        {
            throw new ModelFormatException(_filePath, $"tensor '{Name}': {e.NativeMessage}", e);
        }
    }

    // TQ1_0/TQ2_0 keep an fp16 d at the end of every block; a per-tensor ternary tensor has one d in every block that
    // holds a nonzero code (ggml writes 0 for all-zero blocks). Per-block scales are refused, not kept. The rule is
    // bn_format_convert's for per-block into per-tensor.
    private float SharedBlockScale(ReadOnlySpan<sbyte> codes, ReadOnlySpan<float> blockScales, int blockSize)
    {
        float shared = 0;
        int sharedBlock = -1;
        for (int b = 0; b < blockScales.Length; b++)
        {
            float d = blockScales[b];
            if (!float.IsFinite(d)) throw new ModelFormatException(_filePath, $"tensor '{Name}': block {b} has a non-finite d");
            if (!codes.Slice(b * blockSize, blockSize).ContainsAnyExcept((sbyte)0)) continue;
            if (sharedBlock < 0) (shared, sharedBlock) = (d, b);
            else if (d != shared)
                throw new ModelFormatException(_filePath, $"tensor '{Name}': blocks {sharedBlock} and {b} have different scales d = {shared} and {d}; " +
                    "only per-tensor ternary weights (one d in every nonzero block, as converted from a BitNet b1.58 model) are supported");
        }
        return shared;
    }
}
