using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace BitNet.Models;

/// <summary>
/// One GGUF metadata value: a scalar, a string, or an array (of scalars, strings or further arrays). A value read
/// from a <see cref="GgufFile"/> is a view of the mapping (nothing is copied until asked for, and it is valid until
/// the file is disposed); a value made with the <c>From*</c> factories holds its own bytes, for
/// <see cref="GgufWriter"/>. Either way the value keeps its exact on-disk encoding, so writing it back is a copy.
/// </summary>
public sealed class GgufValue
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // the payload: the value's bytes after its type tag (for an array: element type, count, elements)
    private readonly GgufFile? _file;
    private readonly byte[]? _bytes;
    private readonly long _offset;
    private readonly long _length;
    // arrays of strings: start of element i's u64 length, relative to the payload; one more entry = payload end
    private readonly long[]? _stringStarts;
    // arrays of arrays
    private readonly GgufValue[]? _items;
    private readonly string? _string;

    /// <summary>The value's type.</summary>
    public GgufValueType Type { get; }

    /// <summary>For an array, the type of its elements; otherwise null.</summary>
    public GgufValueType? ElementType { get; }

    /// <summary>For an array, its number of elements; otherwise 1.</summary>
    public long Count { get; }

    internal GgufValue(GgufValueType type, GgufFile? file, byte[]? bytes, long offset, long length,
        GgufValueType? elementType = null, long count = 1, long[]? stringStarts = null, GgufValue[]? items = null, string? text = null)
    {
        Type = type;
        _file = file;
        _bytes = bytes;
        _offset = offset;
        _length = length;
        ElementType = elementType;
        Count = count;
        _stringStarts = stringStarts;
        _items = items;
        _string = text;
    }

    /// <summary>The payload bytes (after the type tag) exactly as stored.</summary>
    internal ReadOnlySpan<byte> Payload => Slice(0, _length);

    private ReadOnlySpan<byte> Slice(long start, long length)
    {
        if (length > int.MaxValue) throw new NotSupportedException($"a GGUF value of {length} bytes exceeds the 2 GiB limit of a span");
        return _file is not null ? _file.Span(_offset + start, length) : _bytes.AsSpan((int)(_offset + start), (int)length);
    }

    private const int ArrayHeader = 12; // u32 element type + u64 count

    // --- scalars -----------------------------------------------------------------------------------------------

    private ReadOnlySpan<byte> Scalar(GgufValueType expected)
    {
        if (Type != expected) throw new InvalidCastException($"the value is {Describe()}, not {expected}");
        return Payload;
    }

    /// <summary>The value, which must be <see cref="GgufValueType.UInt8"/>.</summary>
    public byte AsUInt8() => Scalar(GgufValueType.UInt8)[0];
    /// <summary>The value, which must be <see cref="GgufValueType.Int8"/>.</summary>
    public sbyte AsInt8() => (sbyte)Scalar(GgufValueType.Int8)[0];
    /// <summary>The value, which must be <see cref="GgufValueType.UInt16"/>.</summary>
    public ushort AsUInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Scalar(GgufValueType.UInt16));
    /// <summary>The value, which must be <see cref="GgufValueType.Int16"/>.</summary>
    public short AsInt16() => BinaryPrimitives.ReadInt16LittleEndian(Scalar(GgufValueType.Int16));
    /// <summary>The value, which must be <see cref="GgufValueType.UInt32"/>.</summary>
    public uint AsUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Scalar(GgufValueType.UInt32));
    /// <summary>The value, which must be <see cref="GgufValueType.Int32"/>.</summary>
    public int AsInt32() => BinaryPrimitives.ReadInt32LittleEndian(Scalar(GgufValueType.Int32));
    /// <summary>The value, which must be <see cref="GgufValueType.UInt64"/>.</summary>
    public ulong AsUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Scalar(GgufValueType.UInt64));
    /// <summary>The value, which must be <see cref="GgufValueType.Int64"/>.</summary>
    public long AsInt64() => BinaryPrimitives.ReadInt64LittleEndian(Scalar(GgufValueType.Int64));
    /// <summary>The value, which must be <see cref="GgufValueType.Float32"/>.</summary>
    public float AsFloat32() => BinaryPrimitives.ReadSingleLittleEndian(Scalar(GgufValueType.Float32));
    /// <summary>The value, which must be <see cref="GgufValueType.Float64"/>.</summary>
    public double AsFloat64() => BinaryPrimitives.ReadDoubleLittleEndian(Scalar(GgufValueType.Float64));
    /// <summary>The value, which must be <see cref="GgufValueType.Bool"/> (any non-zero byte is true, as ggml reads it).</summary>
    public bool AsBoolean() => Scalar(GgufValueType.Bool)[0] != 0;

    /// <summary>The value, which must be <see cref="GgufValueType.String"/>.</summary>
    public string AsString()
    {
        if (Type != GgufValueType.String) throw new InvalidCastException($"the value is {Describe()}, not String");
        return _string!;
    }

    /// <summary>Any integer value (UInt8 … Int64) as a long; false for other types or a UInt64 above long.MaxValue.</summary>
    public bool TryGetInteger(out long value)
    {
        switch (Type)
        {
            case GgufValueType.UInt8: value = AsUInt8(); return true;
            case GgufValueType.Int8: value = AsInt8(); return true;
            case GgufValueType.UInt16: value = AsUInt16(); return true;
            case GgufValueType.Int16: value = AsInt16(); return true;
            case GgufValueType.UInt32: value = AsUInt32(); return true;
            case GgufValueType.Int32: value = AsInt32(); return true;
            case GgufValueType.Int64: value = AsInt64(); return true;
            case GgufValueType.UInt64:
                ulong u = AsUInt64();
                value = (long)u;
                return u <= long.MaxValue;
            default: value = 0; return false;
        }
    }

    /// <summary>A Float32 or Float64 value as a double; false for other types.</summary>
    public bool TryGetFloat(out double value)
    {
        switch (Type)
        {
            case GgufValueType.Float32: value = AsFloat32(); return true;
            case GgufValueType.Float64: value = AsFloat64(); return true;
            default: value = 0; return false;
        }
    }

    // --- arrays ------------------------------------------------------------------------------------------------

    private void RequireArray(GgufValueType? element = null)
    {
        if (Type != GgufValueType.Array) throw new InvalidCastException($"the value is {Describe()}, not an array");
        if (element is { } e && ElementType != e) throw new InvalidCastException($"the value is {Describe()}, not an array of {e}");
    }

    /// <summary>The elements of an array of a fixed-size numeric type, viewed in place (no copy). <typeparamref name="T"/>
    /// must match the element type exactly: byte for UInt8, int for Int32, float for Float32, and so on.</summary>
    public ReadOnlySpan<T> AsSpan<T>() where T : unmanaged
    {
        var element = GgufValueTypes.Of<T>() ?? throw new NotSupportedException($"{typeof(T).Name} is not a GGUF element type");
        RequireArray(element);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("GGUF arrays are little-endian");
        return MemoryMarshal.Cast<byte, T>(Slice(ArrayHeader, _length - ArrayHeader));
    }

    /// <summary>Element <paramref name="index"/> of an array of strings, as the stored UTF-8 bytes (no copy).</summary>
    public ReadOnlySpan<byte> GetUtf8(long index)
    {
        RequireArray(GgufValueType.String);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        long start = _stringStarts![index] + 8;
        return Slice(start, _stringStarts[index + 1] - start);
    }

    /// <summary>Element <paramref name="index"/> of an array of strings, decoded.</summary>
    /// <exception cref="DecoderFallbackException">The element is not valid UTF-8.</exception>
    public string GetString(long index) => s_strictUtf8.GetString(GetUtf8(index));

    /// <summary>All elements of an array of strings, decoded.</summary>
    public string[] ToStringArray()
    {
        RequireArray(GgufValueType.String);
        var result = new string[Count];
        for (long i = 0; i < Count; i++) result[i] = GetString(i);
        return result;
    }

    /// <summary>Element <paramref name="index"/> of an array, as a value of its own (a view, not a copy).</summary>
    public GgufValue GetElement(long index)
    {
        RequireArray();
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        var et = ElementType!.Value;
        if (et == GgufValueType.Array) return _items![index];
        if (et == GgufValueType.String)
        {
            long start = _stringStarts![index];
            return new GgufValue(GgufValueType.String, _file, _bytes, _offset + start, _stringStarts[index + 1] - start,
                text: GetString(index));
        }
        int size = GgufValueTypes.FixedSize(et);
        return new GgufValue(et, _file, _bytes, _offset + ArrayHeader + index * size, size);
    }

    /// <summary>"UInt32", "String", "Array of String [3]".</summary>
    public string Describe() => Type == GgufValueType.Array ? $"Array of {ElementType} [{Count}]" : Type.ToString();

    /// <inheritdoc />
    public override string ToString() => Type switch
    {
        GgufValueType.String => _string!,
        GgufValueType.Array => Describe(),
        GgufValueType.Bool => AsBoolean() ? "true" : "false",
        GgufValueType.Float32 => AsFloat32().ToString(System.Globalization.CultureInfo.InvariantCulture),
        GgufValueType.Float64 => AsFloat64().ToString(System.Globalization.CultureInfo.InvariantCulture),
        GgufValueType.UInt64 => AsUInt64().ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => TryGetInteger(out long v) ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : Type.ToString(),
    };

    // --- factories (for GgufWriter) ----------------------------------------------------------------------------

    private static GgufValue Own(GgufValueType type, byte[] payload) => new(type, null, payload, 0, payload.Length);

    private static GgufValue Fixed<T>(GgufValueType type, T value) where T : unmanaged
    {
        var b = new byte[GgufValueTypes.FixedSize(type)];
        MemoryMarshal.Write(b, in value);
        return Own(type, b);
    }

    /// <summary>A UInt8 value.</summary>
    public static GgufValue FromUInt8(byte value) => Fixed(GgufValueType.UInt8, value);
    /// <summary>An Int8 value.</summary>
    public static GgufValue FromInt8(sbyte value) => Fixed(GgufValueType.Int8, value);
    /// <summary>A UInt16 value.</summary>
    public static GgufValue FromUInt16(ushort value) => Fixed(GgufValueType.UInt16, value);
    /// <summary>An Int16 value.</summary>
    public static GgufValue FromInt16(short value) => Fixed(GgufValueType.Int16, value);
    /// <summary>A UInt32 value.</summary>
    public static GgufValue FromUInt32(uint value) => Fixed(GgufValueType.UInt32, value);
    /// <summary>An Int32 value.</summary>
    public static GgufValue FromInt32(int value) => Fixed(GgufValueType.Int32, value);
    /// <summary>A UInt64 value.</summary>
    public static GgufValue FromUInt64(ulong value) => Fixed(GgufValueType.UInt64, value);
    /// <summary>An Int64 value.</summary>
    public static GgufValue FromInt64(long value) => Fixed(GgufValueType.Int64, value);
    /// <summary>A Float32 value.</summary>
    public static GgufValue FromFloat32(float value) => Fixed(GgufValueType.Float32, value);
    /// <summary>A Float64 value.</summary>
    public static GgufValue FromFloat64(double value) => Fixed(GgufValueType.Float64, value);
    /// <summary>A Bool value (stored as 0 or 1).</summary>
    public static GgufValue FromBoolean(bool value) => Fixed(GgufValueType.Bool, value ? (byte)1 : (byte)0);

    /// <summary>A String value.</summary>
    public static GgufValue FromString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var payload = new byte[8 + s_strictUtf8.GetByteCount(value)];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, (ulong)(payload.Length - 8));
        s_strictUtf8.GetBytes(value, payload.AsSpan(8));
        return new GgufValue(GgufValueType.String, null, payload, 0, payload.Length, text: value);
    }

    private static byte[] ArrayPayload(GgufValueType element, long count, int dataBytes, out Span<byte> data)
    {
        var payload = new byte[ArrayHeader + dataBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, (uint)element);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(4), (ulong)count);
        data = payload.AsSpan(ArrayHeader);
        return payload;
    }

    /// <summary>An array of a fixed-size numeric type (byte → UInt8, int → Int32, float → Float32, ...); the values are copied.</summary>
    public static GgufValue FromArray<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        var element = GgufValueTypes.Of<T>() ?? throw new NotSupportedException($"{typeof(T).Name} is not a GGUF element type");
        var bytes = MemoryMarshal.AsBytes(values);
        var payload = ArrayPayload(element, values.Length, bytes.Length, out var data);
        bytes.CopyTo(data);
        return new GgufValue(GgufValueType.Array, null, payload, 0, payload.Length, element, values.Length);
    }

    /// <summary>An array of Bool.</summary>
    public static GgufValue FromBooleanArray(ReadOnlySpan<bool> values)
    {
        var payload = ArrayPayload(GgufValueType.Bool, values.Length, values.Length, out var data);
        for (int i = 0; i < values.Length; i++) data[i] = values[i] ? (byte)1 : (byte)0;
        return new GgufValue(GgufValueType.Array, null, payload, 0, payload.Length, GgufValueType.Bool, values.Length);
    }

    /// <summary>An array of strings (tokenizer vocabularies, merges).</summary>
    public static GgufValue FromStringArray(IReadOnlyList<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        long total = 0;
        foreach (var s in values) total += 8 + s_strictUtf8.GetByteCount(s ?? throw new ArgumentException("null string in array", nameof(values)));
        if (total > int.MaxValue - ArrayHeader) throw new NotSupportedException("string array above 2 GiB");
        var payload = ArrayPayload(GgufValueType.String, values.Count, (int)total, out var data);
        var starts = new long[values.Count + 1];
        int at = 0;
        for (int i = 0; i < values.Count; i++)
        {
            starts[i] = ArrayHeader + at;
            int n = s_strictUtf8.GetBytes(values[i], data[(at + 8)..]);
            BinaryPrimitives.WriteUInt64LittleEndian(data[at..], (ulong)n);
            at += 8 + n;
        }
        starts[values.Count] = ArrayHeader + at;
        return new GgufValue(GgufValueType.Array, null, payload, 0, payload.Length, GgufValueType.String, values.Count, starts);
    }

    /// <summary>An array whose elements are arrays (each may have its own element type, as the format allows).</summary>
    public static GgufValue FromArrayOfArrays(IReadOnlyList<GgufValue> arrays)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        long total = 0;
        foreach (var a in arrays)
        {
            if (a is null || a.Type != GgufValueType.Array) throw new ArgumentException("every element must be an array value", nameof(arrays));
            total += a._length;
        }
        if (total > int.MaxValue - ArrayHeader) throw new NotSupportedException("array above 2 GiB");
        var payload = ArrayPayload(GgufValueType.Array, arrays.Count, (int)total, out var data);
        var items = new GgufValue[arrays.Count];
        int at = 0;
        for (int i = 0; i < arrays.Count; i++)
        {
            var a = arrays[i];
            a.Payload.CopyTo(data[at..]);
            items[i] = new GgufValue(GgufValueType.Array, null, payload, ArrayHeader + at, a._length, a.ElementType, a.Count,
                a._stringStarts, a._items is null ? null : Rebase(a._items, payload, ArrayHeader + at - a._offset));
            at += (int)a._length;
        }
        return new GgufValue(GgufValueType.Array, null, payload, 0, payload.Length, GgufValueType.Array, arrays.Count, items: items);
    }

    // children of a nested array that moved into a new buffer at a new offset
    private static GgufValue[] Rebase(GgufValue[] items, byte[] buffer, long shift) =>
        items.Select(v => new GgufValue(v.Type, null, buffer, v._offset + shift, v._length, v.ElementType, v.Count,
            v._stringStarts, v._items is null ? null : Rebase(v._items, buffer, shift))).ToArray();
}
