namespace BitNet.Models;

/// <summary>The type tag of a GGUF metadata value (ggml <c>gguf_type</c>; the numbers are the file's).</summary>
public enum GgufValueType : uint
{
    /// <summary>unsigned byte.</summary>
    UInt8 = 0,
    /// <summary>signed byte.</summary>
    Int8 = 1,
    /// <summary>unsigned 16-bit integer.</summary>
    UInt16 = 2,
    /// <summary>signed 16-bit integer.</summary>
    Int16 = 3,
    /// <summary>unsigned 32-bit integer.</summary>
    UInt32 = 4,
    /// <summary>signed 32-bit integer.</summary>
    Int32 = 5,
    /// <summary>32-bit IEEE float.</summary>
    Float32 = 6,
    /// <summary>one byte, 0 or 1.</summary>
    Bool = 7,
    /// <summary>u64 byte length followed by UTF-8 bytes (no terminator).</summary>
    String = 8,
    /// <summary>u32 element type, u64 count, then the elements (which may themselves be strings or arrays).</summary>
    Array = 9,
    /// <summary>unsigned 64-bit integer.</summary>
    UInt64 = 10,
    /// <summary>signed 64-bit integer.</summary>
    Int64 = 11,
    /// <summary>64-bit IEEE float.</summary>
    Float64 = 12,
}

/// <summary>Sizes of <see cref="GgufValueType"/> values on disk.</summary>
internal static class GgufValueTypes
{
    /// <summary>Whether the number is one of the thirteen type tags.</summary>
    public static bool IsDefined(uint tag) => tag <= (uint)GgufValueType.Float64;

    /// <summary>Bytes of one value of a fixed-size type; 0 for <see cref="GgufValueType.String"/> and
    /// <see cref="GgufValueType.Array"/>, whose size is in the data.</summary>
    public static int FixedSize(GgufValueType t) => t switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
        _ => 0,
    };

    /// <summary>The fewest bytes one value can take: a string needs its 8-byte length, an array its 12-byte header.</summary>
    public static int MinimumSize(GgufValueType t) => t switch
    {
        GgufValueType.String => 8,
        GgufValueType.Array => 12,
        _ => FixedSize(t),
    };

    /// <summary>The value type that stores elements of the CLR type <typeparamref name="T"/>, or null.</summary>
    public static GgufValueType? Of<T>() where T : unmanaged =>
        typeof(T) == typeof(byte) ? GgufValueType.UInt8
        : typeof(T) == typeof(sbyte) ? GgufValueType.Int8
        : typeof(T) == typeof(ushort) ? GgufValueType.UInt16
        : typeof(T) == typeof(short) ? GgufValueType.Int16
        : typeof(T) == typeof(uint) ? GgufValueType.UInt32
        : typeof(T) == typeof(int) ? GgufValueType.Int32
        : typeof(T) == typeof(float) ? GgufValueType.Float32
        : typeof(T) == typeof(ulong) ? GgufValueType.UInt64
        : typeof(T) == typeof(long) ? GgufValueType.Int64
        : typeof(T) == typeof(double) ? GgufValueType.Float64
        : null;
}
