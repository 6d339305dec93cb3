using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace BitNet.Models;

/// <summary>Conversions of stored 16-bit floats to float32 (little-endian storage, as safetensors and GGUF use).</summary>
public static class FloatConvert
{
    /// <summary>bfloat16 is the top half of a float32: widening is exact.</summary>
    public static float BF16ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Rounds a float32 to bfloat16, round-to-nearest-even (NaN stays NaN), as PyTorch does.</summary>
    public static ushort SingleToBF16(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7FFF_FFFF) > 0x7F80_0000) return (ushort)((u >> 16) | 0x40); // quiet NaN
        uint rounding = 0x7FFF + ((u >> 16) & 1);
        return (ushort)((u + rounding) >> 16);
    }

    /// <summary>Widens little-endian stored values of <paramref name="type"/> (F32, F16, BF16, F64) into <paramref name="dst"/>.</summary>
    public static void ToSingle(DType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        int n = dst.Length;
        if ((long)n * DTypes.SizeOf(type) != src.Length)
            throw new ArgumentException($"{src.Length} bytes of {type} do not hold {n} values");
        switch (type)
        {
            case DType.F32:
                if (BitConverter.IsLittleEndian) MemoryMarshal.Cast<byte, float>(src).CopyTo(dst);
                else for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(4 * i)..]);
                break;
            case DType.F16:
                for (int i = 0; i < n; i++) dst[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]));
                break;
            case DType.BF16:
                for (int i = 0; i < n; i++) dst[i] = BF16ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]));
                break;
            case DType.F64:
                for (int i = 0; i < n; i++) dst[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(src[(8 * i)..]);
                break;
            default:
                throw new NotSupportedException($"cannot read {type} as float");
        }
    }
}
