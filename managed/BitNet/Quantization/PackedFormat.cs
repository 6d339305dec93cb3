using System.Diagnostics.CodeAnalysis;
using BitNet.Interop;

namespace BitNet.Quantization;

/// <summary>
/// One packed weight format of libbitnet's traits table (<c>bn_format_info</c>): its name, block, bytes per block,
/// GGML type id and where it keeps its scale, and the calls that move ternary weights in and out of it. All formats so
/// far are ternary: codes -1, 0, +1 and w = code * scale, where scale is the <em>dequantization</em> scale (1 / s of
/// <see cref="TernaryWeights"/>).
/// <list type="table">
/// <item><term>HF_2B4T</term><description>HF transformers' pack_weights (microsoft/bitnet-b1.58-2B-4T): U8 [rows/4, cols],
/// bits 2i..2i+1 of byte [r, c] hold code + 1 of W[i*rows/4 + r, c]; rows % 4 == 0; the scale (weight_scale, BF16) lives
/// beside it.</description></item>
/// <item><term>TQ1_0</term><description>ggml type 34: 256 weights in 54 bytes (base-3 trits), fp16 d per block.</description></item>
/// <item><term>TQ2_0</term><description>ggml type 35: 256 weights in 66 bytes (2 bits each), fp16 d per block.</description></item>
/// <item><term>I2_S_X86</term><description>bitnet.cpp I2_S (its type 36) as x86 builds write it: blocks of 128 weights in
/// 32 bytes, then the fp32 tensor scale and 28 zero bytes.</description></item>
/// <item><term>I2_S_ARM</term><description>The same as ARM builds write it: blocks of 64 weights in 16 bytes.</description></item>
/// </list>
/// Shapes are checked by libbitnet: a shape that does not fit a format (cols not a multiple of its block, say) gives a
/// <see cref="BitNetException"/> with <see cref="BnStatus.ErrShape"/> naming the numbers.
/// </summary>
public sealed class PackedFormat
{
    private static readonly Lazy<PackedFormat[]> s_all = new(Load);

    private PackedFormat(BnFormat id, string name, in BnFormatInfo info)
    {
        Id = id;
        Name = name;
        BlockSize = info.BlockSize;
        BlockBytes = info.BlockBytes;
        GgmlType = info.GgmlType >= 0 ? info.GgmlType : null;
        ScalePlacement = (ScalePlacement)info.ScaleKind;
        RowMultiple = info.RowMultiple;
        ColMultiple = info.ColMultiple;
        IsTernary = info.Ternary != 0;
        TensorExtraBytes = info.TensorExtraBytes;
    }

    /// <summary>Every format of the native table, in its order.</summary>
    public static IReadOnlyList<PackedFormat> All => s_all.Value;

    /// <summary>HF transformers' BitNet packing (microsoft/bitnet-b1.58-2B-4T checkpoints).</summary>
    public static PackedFormat Hf2B4T => Get(BnFormat.Hf2b4t);

    /// <summary>ggml's TQ1_0.</summary>
    public static PackedFormat Tq1_0 => Get(BnFormat.Tq1_0);

    /// <summary>ggml's TQ2_0.</summary>
    public static PackedFormat Tq2_0 => Get(BnFormat.Tq2_0);

    /// <summary>bitnet.cpp's I2_S as its x86 builds write it.</summary>
    public static PackedFormat I2SX86 => Get(BnFormat.I2SX86);

    /// <summary>bitnet.cpp's I2_S as its ARM builds write it.</summary>
    public static PackedFormat I2SArm => Get(BnFormat.I2SArm);

    /// <summary>The format's name as the native table spells it ("TQ2_0").</summary>
    public string Name { get; }

    /// <summary>Weights per block.</summary>
    public int BlockSize { get; }

    /// <summary>Bytes per block.</summary>
    public int BlockBytes { get; }

    /// <summary>The GGML type id, or null for a format GGML does not have.</summary>
    public int? GgmlType { get; }

    /// <summary>Where the dequantization scale is kept.</summary>
    public ScalePlacement ScalePlacement { get; }

    /// <summary>Rows must be a multiple of this.</summary>
    public int RowMultiple { get; }

    /// <summary>Columns must be a multiple of this.</summary>
    public int ColMultiple { get; }

    /// <summary>Whether the codes are -1, 0, +1 (such formats convert into one another through their codes).</summary>
    public bool IsTernary { get; }

    /// <summary>Bytes after the blocks, once per tensor (I2_S: 32).</summary>
    public int TensorExtraBytes { get; }

    internal BnFormat Id { get; }

    /// <summary>The format called <paramref name="name"/>, ignoring case ("tq2_0" is <see cref="Tq2_0"/>).</summary>
    /// <exception cref="ArgumentException">No format has that name (the message lists those that exist).</exception>
    public static PackedFormat FromName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return TryFromName(name, out var format)
            ? format
            : throw new ArgumentException(
                $"no packed format is called \"{name}\"; the formats are {string.Join(", ", All.Select(f => f.Name))}", nameof(name));
    }

    /// <summary>Looks a format up by name, ignoring case.</summary>
    public static bool TryFromName(string name, [NotNullWhen(true)] out PackedFormat? format)
    {
        format = All.FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase));
        return format is not null;
    }

    /// <summary>Bytes of a [<paramref name="rows"/>, <paramref name="cols"/>] tensor in this format.</summary>
    /// <exception cref="BitNetException">The shape does not fit the format (<see cref="BnStatus.ErrShape"/>) or a dimension is
    /// not positive (<see cref="BnStatus.ErrInvalidArgument"/>).</exception>
    public unsafe long PackedSize(int rows, int cols)
    {
        long n;
        BitNetException.Check(NativeMethods.bn_format_packed_size(Id, rows, cols, &n));
        return n;
    }

    /// <summary>The number of scales the bytes of a [<paramref name="rows"/>, <paramref name="cols"/>] tensor hold: 0
    /// (outside), 1 (per tensor) or the number of blocks.</summary>
    /// <exception cref="BitNetException">As <see cref="PackedSize"/>.</exception>
    public unsafe long ScaleCount(int rows, int cols)
    {
        long n;
        BitNetException.Check(NativeMethods.bn_format_scale_count(Id, rows, cols, &n));
        return n;
    }

    /// <summary>
    /// Packs ternary codes with their dequantization scale(s) (<c>bn_format_pack</c>): one tensor scale (TQ formats then
    /// write d = fp16(scale) into every block that has a nonzero code and 0 into the others, which is byte for byte what
    /// ggml writes for the floats code * scale), one per block for a per-block format, or none for
    /// <see cref="ScalePlacement.Outside"/> (one is accepted and ignored).
    /// </summary>
    /// <param name="codes">rows * cols values -1, 0, +1, row-major.</param>
    /// <param name="rows">Rows, a positive multiple of <see cref="RowMultiple"/>.</param>
    /// <param name="cols">Columns, a positive multiple of <see cref="ColMultiple"/>.</param>
    /// <param name="scales">The dequantization scale(s).</param>
    /// <param name="pool">Where the bytes are allocated (default: <see cref="NativeMemoryPool.Shared"/>).</param>
    /// <returns><see cref="PackedSize"/> bytes.</returns>
    /// <exception cref="ArgumentException"><paramref name="codes"/> is not rows * cols long.</exception>
    /// <exception cref="BitNetException">A shape that does not fit (<see cref="BnStatus.ErrShape"/>), a code that is not
    /// ternary or the wrong number of scales (<see cref="BnStatus.ErrInvalidArgument"/>), a scale that is not finite or does
    /// not fit fp16 (<see cref="BnStatus.ErrNumeric"/>).</exception>
    public NativeBuffer<byte> Pack(ReadOnlySpan<sbyte> codes, int rows, int cols, ReadOnlySpan<float> scales = default,
                                   NativeMemoryPool? pool = null)
    {
        var dst = Allocate(rows, cols, pool);
        try
        {
            Pack(codes, rows, cols, scales, dst.Span);
        }
        catch
        {
            dst.Dispose();
            throw;
        }
        return dst;
    }

    /// <summary>Packs ternary codes with one tensor scale.</summary>
    /// <inheritdoc cref="Pack(ReadOnlySpan{sbyte}, int, int, ReadOnlySpan{float}, NativeMemoryPool?)"/>
    public NativeBuffer<byte> Pack(ReadOnlySpan<sbyte> codes, int rows, int cols, float scale, NativeMemoryPool? pool = null) =>
        Pack(codes, rows, cols, new ReadOnlySpan<float>(in scale), pool);

    /// <summary>Packs into <paramref name="destination"/> and returns the number of bytes written.</summary>
    /// <inheritdoc cref="Pack(ReadOnlySpan{sbyte}, int, int, ReadOnlySpan{float}, NativeMemoryPool?)"/>
    /// <exception cref="BitNetException"><paramref name="destination"/> is too short (<see cref="BnStatus.ErrBufferTooSmall"/>),
    /// and the failures of the allocating overload.</exception>
    public unsafe int Pack(ReadOnlySpan<sbyte> codes, int rows, int cols, ReadOnlySpan<float> scales, Span<byte> destination)
    {
        TensorArguments.RequireLength(codes, TensorArguments.Count(rows, cols), rows, cols, nameof(codes));
        fixed (sbyte* q = codes)
        fixed (float* s = scales)
        fixed (byte* d = destination)
            BitNetException.Check(NativeMethods.bn_format_pack(Id, q, rows, cols, s, scales.Length, d, destination.Length));
        return (int)PackedSize(rows, cols);
    }

    /// <summary>Takes packed bytes apart into codes and the format's own scales (<c>bn_format_unpack</c>).</summary>
    /// <param name="packed">At least <see cref="PackedSize"/> bytes.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="cols">Columns.</param>
    /// <param name="pool">Where the codes are allocated (default: <see cref="NativeMemoryPool.Shared"/>).</param>
    /// <exception cref="BitNetException"><paramref name="packed"/> too short or a shape that does not fit
    /// (<see cref="BnStatus.ErrShape"/>), bytes no packer writes (<see cref="BnStatus.ErrFormat"/>, naming the byte), a
    /// non-finite scale in the bytes (<see cref="BnStatus.ErrNumeric"/>).</exception>
    public UnpackedTernary Unpack(ReadOnlySpan<byte> packed, int rows, int cols, NativeMemoryPool? pool = null)
    {
        int n = TensorArguments.PositiveCount(rows, cols);
        var scales = new float[TensorArguments.Length(ScaleCount(rows, cols), "the scales")];
        var codes = (pool ?? NativeMemoryPool.Shared).Allocate<sbyte>(n);
        try
        {
            Unpack(packed, rows, cols, codes.Span, scales);
        }
        catch
        {
            codes.Dispose();
            throw;
        }
        return new UnpackedTernary(this, rows, cols, codes, scales);
    }

    /// <summary>Unpacks into caller-provided spans: rows * cols codes and <see cref="ScaleCount"/> scales.</summary>
    /// <inheritdoc cref="Unpack(ReadOnlySpan{byte}, int, int, NativeMemoryPool?)"/>
    /// <exception cref="BitNetException"><paramref name="codes"/> or <paramref name="scales"/> too short
    /// (<see cref="BnStatus.ErrBufferTooSmall"/>), and the failures of the allocating overload.</exception>
    public unsafe void Unpack(ReadOnlySpan<byte> packed, int rows, int cols, Span<sbyte> codes, Span<float> scales)
    {
        fixed (byte* p = packed)
        fixed (sbyte* q = codes)
        fixed (float* s = scales)
            BitNetException.Check(NativeMethods.bn_format_unpack(Id, p, packed.Length, rows, cols, q, codes.Length, s, scales.Length));
    }

    /// <summary>The weights code * scale with the scales in the bytes (<c>bn_format_dequantize</c>); for a format that keeps
    /// its scale outside, use the overload that takes it.</summary>
    /// <exception cref="ArgumentException">The format keeps its scale outside the bytes.</exception>
    /// <exception cref="BitNetException">As <see cref="Unpack(ReadOnlySpan{byte}, int, int, NativeMemoryPool?)"/>.</exception>
    public NativeBuffer<float> Dequantize(ReadOnlySpan<byte> packed, int rows, int cols, NativeMemoryPool? pool = null) =>
        DequantizeAllocating(packed, rows, cols, null, pool);

    /// <summary>The weights code * scale; <paramref name="scale"/> is used by a format that keeps its scale outside
    /// (<see cref="Hf2B4T"/>: the checkpoint's weight_scale) and ignored by the others.</summary>
    /// <exception cref="BitNetException">A non-finite <paramref name="scale"/> for an outside-scale format
    /// (<see cref="BnStatus.ErrNumeric"/>), and the failures of <see cref="Unpack(ReadOnlySpan{byte}, int, int, NativeMemoryPool?)"/>.</exception>
    public NativeBuffer<float> Dequantize(ReadOnlySpan<byte> packed, int rows, int cols, float scale, NativeMemoryPool? pool = null) =>
        DequantizeAllocating(packed, rows, cols, scale, pool);

    /// <summary>Dequantizes into <paramref name="destination"/> (at least rows * cols long).</summary>
    /// <inheritdoc cref="Dequantize(ReadOnlySpan{byte}, int, int, NativeMemoryPool?)"/>
    public void Dequantize(ReadOnlySpan<byte> packed, int rows, int cols, Span<float> destination) =>
        DequantizeCore(packed, rows, cols, null, destination);

    /// <summary>Dequantizes into <paramref name="destination"/> (at least rows * cols long).</summary>
    /// <inheritdoc cref="Dequantize(ReadOnlySpan{byte}, int, int, float, NativeMemoryPool?)"/>
    public void Dequantize(ReadOnlySpan<byte> packed, int rows, int cols, float scale, Span<float> destination) =>
        DequantizeCore(packed, rows, cols, scale, destination);

    /// <summary>
    /// Quantizes float weights the way the format's origin does (<c>bn_format_quantize</c>): TQ1_0 / TQ2_0 as ggml's
    /// quantize_row_tq*_0_ref (per block d = max|w|, q = round-half-away(w / d)), byte for byte; I2_S as bitnet.cpp's
    /// quantize_i2_s (scale = max|w| of the tensor, q = sign(w), 0 where |w| &lt; 1e-6), which expects weights that are
    /// already ternary times a scale. For master weights use <see cref="TernaryQuantizer"/> and
    /// <see cref="TernaryWeights.Pack"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="weights"/> is not rows * cols long.</exception>
    /// <exception cref="BitNetException">The format has no float path (<see cref="Hf2B4T"/>: <see cref="BnStatus.ErrUnsupported"/>),
    /// a NaN or infinity, or a block max beyond fp16 (<see cref="BnStatus.ErrNumeric"/>), a shape that does not fit
    /// (<see cref="BnStatus.ErrShape"/>).</exception>
    public NativeBuffer<byte> Quantize(ReadOnlySpan<float> weights, int rows, int cols, NativeMemoryPool? pool = null)
    {
        var dst = Allocate(rows, cols, pool);
        try
        {
            Quantize(weights, rows, cols, dst.Span);
        }
        catch
        {
            dst.Dispose();
            throw;
        }
        return dst;
    }

    /// <summary>Quantizes into <paramref name="destination"/> and returns the number of bytes written.</summary>
    /// <inheritdoc cref="Quantize(ReadOnlySpan{float}, int, int, NativeMemoryPool?)"/>
    /// <exception cref="BitNetException"><paramref name="destination"/> is too short (<see cref="BnStatus.ErrBufferTooSmall"/>),
    /// and the failures of the allocating overload.</exception>
    public unsafe int Quantize(ReadOnlySpan<float> weights, int rows, int cols, Span<byte> destination)
    {
        TensorArguments.RequireLength(weights, TensorArguments.Count(rows, cols), rows, cols, nameof(weights));
        fixed (float* w = weights)
        fixed (byte* d = destination)
            BitNetException.Check(NativeMethods.bn_format_quantize(Id, w, rows, cols, d, destination.Length));
        return (int)PackedSize(rows, cols);
    }

    /// <summary>
    /// Converts packed bytes of this format into <paramref name="to"/> through the codes, never through floats
    /// (<c>bn_format_convert</c>). The scale carried over is this format's tensor scale, each block's d between per-block
    /// formats of the same block, or dropped into a format that keeps it outside. Per-block into per-tensor needs every
    /// block that has a nonzero code to have the same d. From a format that keeps its scale outside into one that does
    /// not, use the overload that takes the scale.
    /// </summary>
    /// <exception cref="ArgumentException">This format keeps its scale outside and <paramref name="to"/> needs one.</exception>
    /// <exception cref="BitNetException">A shape that does not fit either format or <paramref name="packed"/> too short
    /// (<see cref="BnStatus.ErrShape"/>), per-block scales that differ into a per-tensor format
    /// (<see cref="BnStatus.ErrUnsupported"/>, naming two blocks), bytes no packer writes (<see cref="BnStatus.ErrFormat"/>).</exception>
    public NativeBuffer<byte> Convert(ReadOnlySpan<byte> packed, int rows, int cols, PackedFormat to, NativeMemoryPool? pool = null) =>
        ConvertAllocating(packed, rows, cols, to, null, pool);

    /// <summary>Converts packed bytes of a format that keeps its scale outside (<see cref="Hf2B4T"/>), whose scale is
    /// <paramref name="scale"/>, into <paramref name="to"/>; for other source formats <paramref name="scale"/> is ignored.</summary>
    /// <inheritdoc cref="Convert(ReadOnlySpan{byte}, int, int, PackedFormat, NativeMemoryPool?)"/>
    public NativeBuffer<byte> Convert(ReadOnlySpan<byte> packed, int rows, int cols, PackedFormat to, float scale,
                                      NativeMemoryPool? pool = null) =>
        ConvertAllocating(packed, rows, cols, to, scale, pool);

    /// <summary>Converts into <paramref name="destination"/> and returns the number of bytes written.</summary>
    /// <inheritdoc cref="Convert(ReadOnlySpan{byte}, int, int, PackedFormat, NativeMemoryPool?)"/>
    public int Convert(ReadOnlySpan<byte> packed, int rows, int cols, PackedFormat to, Span<byte> destination) =>
        ConvertCore(packed, rows, cols, to, null, destination);

    /// <summary>Converts into <paramref name="destination"/> and returns the number of bytes written.</summary>
    /// <inheritdoc cref="Convert(ReadOnlySpan{byte}, int, int, PackedFormat, float, NativeMemoryPool?)"/>
    public int Convert(ReadOnlySpan<byte> packed, int rows, int cols, PackedFormat to, float scale, Span<byte> destination) =>
        ConvertCore(packed, rows, cols, to, scale, destination);

    /// <summary>The format's <see cref="Name"/>.</summary>
    public override string ToString() => Name;

    private NativeBuffer<byte> Allocate(int rows, int cols, NativeMemoryPool? pool)
    {
        long size = PackedSize(rows, cols);
        return (pool ?? NativeMemoryPool.Shared).Allocate<byte>(TensorArguments.Length(size, $"a {rows} x {cols} {Name} tensor"));
    }

    private NativeBuffer<float> DequantizeAllocating(ReadOnlySpan<byte> packed, int rows, int cols, float? scale, NativeMemoryPool? pool)
    {
        RequireScaleFor("dequantize", scale);
        var dst = (pool ?? NativeMemoryPool.Shared).Allocate<float>(TensorArguments.PositiveCount(rows, cols));
        try
        {
            DequantizeCore(packed, rows, cols, scale, dst.Span);
        }
        catch
        {
            dst.Dispose();
            throw;
        }
        return dst;
    }

    private unsafe void DequantizeCore(ReadOnlySpan<byte> packed, int rows, int cols, float? scale, Span<float> destination)
    {
        RequireScaleFor("dequantize", scale);
        fixed (byte* p = packed)
        fixed (float* x = destination)
            BitNetException.Check(NativeMethods.bn_format_dequantize(Id, p, packed.Length, rows, cols, scale ?? 0f, x,
                destination.Length));
    }

    private NativeBuffer<byte> ConvertAllocating(ReadOnlySpan<byte> packed, int rows, int cols, PackedFormat to, float? scale,
                                                 NativeMemoryPool? pool)
    {
        ArgumentNullException.ThrowIfNull(to);
        if (to.ScalePlacement != ScalePlacement.Outside) RequireScaleFor($"convert into {to.Name}", scale);
        var dst = to.Allocate(rows, cols, pool);
        try
        {
            ConvertCore(packed, rows, cols, to, scale, dst.Span);
        }
        catch
        {
            dst.Dispose();
            throw;
        }
        return dst;
    }

    private unsafe int ConvertCore(ReadOnlySpan<byte> packed, int rows, int cols, PackedFormat to, float? scale, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(to);
        if (to.ScalePlacement != ScalePlacement.Outside) RequireScaleFor($"convert into {to.Name}", scale);
        fixed (byte* p = packed)
        fixed (byte* d = destination)
            BitNetException.Check(NativeMethods.bn_format_convert(Id, p, packed.Length, to.Id, rows, cols, scale ?? 0f, d,
                destination.Length));
        return (int)to.PackedSize(rows, cols);
    }

    private void RequireScaleFor(string action, float? scale)
    {
        if (ScalePlacement == ScalePlacement.Outside && scale is null)
            throw new ArgumentException(
                $"{Name} keeps its scale outside the bytes: pass it (the checkpoint's weight_scale) to {action}", nameof(scale));
    }

    private static PackedFormat Get(BnFormat id) => All[(int)id];

    private static unsafe PackedFormat[] Load()
    {
        NativeVersion.EnsureCompatible();
        int count = NativeMethods.bn_format_count();
        var formats = new PackedFormat[count];
        for (int i = 0; i < count; i++)
        {
            BnFormatInfo info;
            BitNetException.Check(NativeMethods.bn_format_get_info((BnFormat)i, &info));
            formats[i] = new PackedFormat((BnFormat)i, NativeString.Read(info.Name), info);
        }
        return formats;
    }
}
