using System.Buffers.Binary;

namespace BitNet.Models;

/// <summary>
/// The token embedding (and tied LM head), or an untied LM head: [<see cref="Rows"/> = vocabulary,
/// <see cref="Cols"/> = hidden] in the type the file stores it (F32, F16, BF16, Q8_0, Q6_K or Q4_K), read as float one row
/// at a time. <see cref="Bytes"/> is a view of the mapped file. Valid until its <see cref="BitNetModelFile"/> is disposed.
/// </summary>
public sealed class EmbeddingMatrix
{
    private readonly StoredBytes _bytes;

    internal EmbeddingMatrix(string name, int rows, int cols, EmbeddingType type, StoredBytes bytes)
    {
        Name = name;
        Rows = rows;
        Cols = cols;
        Type = type;
        _bytes = bytes;
        RowBytes = EmbeddingTypes.RowBytes(type, cols);
    }

    /// <summary>The tensor's name in its file.</summary>
    public string Name { get; }

    /// <summary>Rows (vocabulary size).</summary>
    public int Rows { get; }

    /// <summary>Columns (hidden size).</summary>
    public int Cols { get; }

    /// <summary>The stored element type.</summary>
    public EmbeddingType Type { get; }

    /// <summary>Bytes of one stored row.</summary>
    public int RowBytes { get; }

    /// <summary>The stored bytes, Rows * RowBytes: a view of the mapped file.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes();

    /// <summary>Row <paramref name="row"/> as float into <paramref name="destination"/> (Cols values).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="row"/> is outside [0, Rows).</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than Cols.</exception>
    public void GetRow(int row, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Rows);
        if (destination.Length < Cols) throw new ArgumentException($"destination holds {destination.Length} values, a row has {Cols}", nameof(destination));
        EmbeddingTypes.Dequantize(Type, Bytes.Slice(checked(row * RowBytes), RowBytes), destination[..Cols]);
    }

    /// <summary>Every row as float, row-major, in a new array.</summary>
    public float[] ToSingles()
    {
        var all = new float[checked(Rows * Cols)];
        ReadOnlySpan<byte> bytes = Bytes;
        for (int r = 0; r < Rows; r++)
            EmbeddingTypes.Dequantize(Type, bytes.Slice(r * RowBytes, RowBytes), all.AsSpan(r * Cols, Cols));
        return all;
    }
}

/// <summary>The types an embedding or LM head may be stored in (their GGUF type ids are in <see cref="EmbeddingTypes.ToGguf"/>).</summary>
public enum EmbeddingType
{
    /// <summary>float32.</summary>
    F32,
    /// <summary>IEEE half.</summary>
    F16,
    /// <summary>bfloat16.</summary>
    BF16,
    /// <summary>ggml Q8_0: blocks of 32 values in 34 bytes {fp16 d; int8 qs[32]}, value = qs * d.</summary>
    Q8_0,
    /// <summary>ggml Q6_K: blocks of 256 values in 210 bytes {u8 ql[128]; u8 qh[64]; i8 scales[16]; fp16 d}.</summary>
    Q6_K,
    /// <summary>ggml Q4_K: blocks of 256 values in 144 bytes {fp16 d; fp16 dmin; u8 scales[12]; u8 qs[128]}, 8 sub-blocks
    /// of 32 with a 6-bit scale sc and min m each, value = (d * sc) * q - (dmin * m). Read only (no quantizer here).</summary>
    Q4_K,
}

/// <summary>Row sizes, GGUF type mapping, dequantization (ggml's <c>dequantize_row_q8_0</c> / <c>_q6_K</c> / <c>_q4_K</c>) and the
/// reference quantizers (<c>quantize_row_q8_0_ref</c>, <c>quantize_row_q6_K_ref</c>) for <see cref="EmbeddingType"/>.</summary>
public static class EmbeddingTypes
{
    /// <summary>Bytes of a row of <paramref name="cols"/> values.</summary>
    /// <exception cref="ArgumentException"><paramref name="cols"/> is not a multiple of the type's block.</exception>
    public static int RowBytes(EmbeddingType type, int cols)
    {
        (int block, int bytes) = type switch
        {
            EmbeddingType.F32 => (1, 4),
            EmbeddingType.F16 or EmbeddingType.BF16 => (1, 2),
            EmbeddingType.Q8_0 => (32, 34),
            EmbeddingType.Q6_K => (256, 210),
            EmbeddingType.Q4_K => (256, 144),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
        if (cols % block != 0) throw new ArgumentException($"{type} rows must be a multiple of {block} values, not {cols}", nameof(cols));
        return checked(cols / block * bytes);
    }

    /// <summary>The GGUF type of an embedding type.</summary>
    public static GgufType ToGguf(EmbeddingType type) => type switch
    {
        EmbeddingType.F32 => GgufTypes.F32,
        EmbeddingType.F16 => GgufTypes.F16,
        EmbeddingType.BF16 => GgufTypes.BF16,
        EmbeddingType.Q8_0 => GgufTypes.Q8_0,
        EmbeddingType.Q6_K => GgufTypes.Q6_K,
        EmbeddingType.Q4_K => GgufTypes.Q4_K,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>The embedding type of a GGUF type, or null.</summary>
    public static EmbeddingType? FromGguf(GgufType type) =>
        type == GgufTypes.F32 ? EmbeddingType.F32 : type == GgufTypes.F16 ? EmbeddingType.F16 : type == GgufTypes.BF16 ? EmbeddingType.BF16
        : type == GgufTypes.Q8_0 ? EmbeddingType.Q8_0 : type == GgufTypes.Q6_K ? EmbeddingType.Q6_K
        : type == GgufTypes.Q4_K ? EmbeddingType.Q4_K : null;

    /// <summary>The embedding type of a safetensors dtype, or null.</summary>
    public static EmbeddingType? FromDType(DType type) => type switch
    {
        DType.F32 => EmbeddingType.F32,
        DType.F16 => EmbeddingType.F16,
        DType.BF16 => EmbeddingType.BF16,
        _ => null,
    };

    /// <summary>Dequantizes one stored row.</summary>
    public static void Dequantize(EmbeddingType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (type)
        {
            case EmbeddingType.F32: FloatConvert.ToSingle(DType.F32, src, dst); break;
            case EmbeddingType.F16: FloatConvert.ToSingle(DType.F16, src, dst); break;
            case EmbeddingType.BF16: FloatConvert.ToSingle(DType.BF16, src, dst); break;
            case EmbeddingType.Q8_0:
                for (int b = 0; b < dst.Length / 32; b++)
                {
                    ReadOnlySpan<byte> block = src.Slice(b * 34, 34);
                    float d = HalfAt(block, 0);
                    for (int j = 0; j < 32; j++) dst[b * 32 + j] = (sbyte)block[2 + j] * d;
                }
                break;
            case EmbeddingType.Q6_K:
                for (int b = 0; b < dst.Length / 256; b++)
                    DequantizeQ6K(src.Slice(b * 210, 210), dst.Slice(b * 256, 256));
                break;
            case EmbeddingType.Q4_K:
                for (int b = 0; b < dst.Length / 256; b++)
                    DequantizeQ4K(src.Slice(b * 144, 144), dst.Slice(b * 256, 256));
                break;
            default: throw new ArgumentOutOfRangeException(nameof(type));
        }
    }

    /// <summary>Quantizes a row to Q8_0 as ggml's <c>quantize_row_q8_0_ref</c>: d = max|x| / 127 (fp16), q = round(x / d).</summary>
    /// <exception cref="ArgumentException">The length is not a multiple of 32, or <paramref name="dst"/> is too short.</exception>
    public static void QuantizeQ8_0(ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (src.Length % 32 != 0) throw new ArgumentException("Q8_0 rows are a multiple of 32 values", nameof(src));
        if (dst.Length < src.Length / 32 * 34) throw new ArgumentException("destination too short", nameof(dst));
        for (int b = 0; b < src.Length / 32; b++)
        {
            ReadOnlySpan<float> x = src.Slice(b * 32, 32);
            float amax = 0;
            foreach (float v in x) amax = MathF.Max(amax, MathF.Abs(v));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            Span<byte> block = dst.Slice(b * 34, 34);
            BinaryPrimitives.WriteUInt16LittleEndian(block, BitConverter.HalfToUInt16Bits((Half)d));
            for (int j = 0; j < 32; j++) block[2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>Quantizes <paramref name="rows"/> rows of <paramref name="cols"/> values to Q6_K exactly as ggml's
    /// <c>quantize_row_q6_K_ref</c> does, byte for byte (the native <c>bn_dtype_quantize_ref</c>).</summary>
    /// <exception cref="ArgumentException"><paramref name="src"/> is not rows × cols values, or <paramref name="dst"/>
    /// is shorter than rows × <see cref="RowBytes"/>.</exception>
    /// <exception cref="BitNetException">cols is not a multiple of 256, or a value is not finite.</exception>
    public static unsafe void QuantizeQ6_K(ReadOnlySpan<float> src, int rows, int cols, Span<byte> dst)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        if (src.Length != (long)rows * cols) throw new ArgumentException($"{src.Length} values, but {rows} x {cols} needs {(long)rows * cols}", nameof(src));
        long need = (long)rows * RowBytes(EmbeddingType.Q6_K, cols);
        if (dst.Length < need) throw new ArgumentException($"destination holds {dst.Length} bytes, {need} needed", nameof(dst));
        fixed (float* x = src)
        fixed (byte* d = dst)
            BitNetException.Check(Interop.NativeMethods.bn_dtype_quantize_ref(Interop.BnDtype.Q6K, x, rows, cols, d, dst.Length));
    }

    private static float HalfAt(ReadOnlySpan<byte> b, int offset) =>
        (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b[offset..]));

    // ggml dequantize_row_q6_K: two halves of 128 values; within a half, l in 0..31 gives values l, l+32, l+64, l+96
    // from ql[l], ql[l+32] (low/high nibbles) and qh[l] (2 bits each), scales by 16-value groups.
    private static void DequantizeQ6K(ReadOnlySpan<byte> block, Span<float> y)
    {
        ReadOnlySpan<byte> ql = block[..128], qh = block.Slice(128, 64), sc = block.Slice(192, 16);
        float d = HalfAt(block, 208);
        for (int half = 0; half < 2; half++)
        {
            ReadOnlySpan<byte> l8 = ql.Slice(half * 64, 64), h8 = qh.Slice(half * 32, 32), s8 = sc.Slice(half * 8, 8);
            Span<float> o = y.Slice(half * 128, 128);
            for (int l = 0; l < 32; l++)
            {
                int s = l / 16;
                int q1 = ((l8[l] & 0xF) | ((h8[l] >> 0 & 3) << 4)) - 32;
                int q2 = ((l8[l + 32] & 0xF) | ((h8[l] >> 2 & 3) << 4)) - 32;
                int q3 = ((l8[l] >> 4) | ((h8[l] >> 4 & 3) << 4)) - 32;
                int q4 = ((l8[l + 32] >> 4) | ((h8[l] >> 6 & 3) << 4)) - 32;
                o[l] = d * (sbyte)s8[s] * q1;
                o[l + 32] = d * (sbyte)s8[s + 2] * q2;
                o[l + 64] = d * (sbyte)s8[s + 4] * q3;
                o[l + 96] = d * (sbyte)s8[s + 6] * q4;
            }
        }
    }

    // ggml dequantize_row_q4_K: four groups of 64 values, each from 32 bytes of qs (low nibbles: sub-block 2g, high
    // nibbles: sub-block 2g+1); sub-block j's 6-bit scale and min as get_scale_min_k4 packs them in scales[12];
    // y = (d * sc) * q - (dmin * m) with both products rounded to float first.
    private static void DequantizeQ4K(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = HalfAt(block, 0), dmin = HalfAt(block, 2);
        ReadOnlySpan<byte> scales = block.Slice(4, 12), qs = block.Slice(16, 128);
        for (int j = 0; j < 8; j++)
        {
            int sc = j < 4 ? scales[j] & 63 : (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
            int m = j < 4 ? scales[j + 4] & 63 : (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
            float ds = d * sc, dm = dmin * m;
            ReadOnlySpan<byte> q = qs.Slice(32 * (j / 2), 32);
            int shift = 4 * (j % 2);
            for (int l = 0; l < 32; l++) y[32 * j + l] = ds * ((q[l] >> shift) & 0xF) - dm;
        }
    }
}
