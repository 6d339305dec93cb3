using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace BitNet.Models;

/// <summary>
/// A memory-mapped GGUF file, version 2 or 3 (ggml <c>docs/gguf.md</c>): the magic "GGUF", a u32 version, u64 tensor
/// and key/value counts, the key/value pairs, the tensor infos, padding to <c>general.alignment</c> (default 32),
/// then the tensor data, each tensor at an aligned offset relative to the start of that data section.
/// Nothing is copied: metadata arrays and tensor bytes are spans over the mapping, valid until Dispose. Every count,
/// length and offset is checked against the file before it is used, so a truncated or hostile file gives a
/// <see cref="ModelFormatException"/> naming the problem, never a read outside the file.
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    /// <summary>The four bytes every GGUF file starts with.</summary>
    public static ReadOnlySpan<byte> Magic => "GGUF"u8;

    /// <summary>The version <see cref="GgufWriter"/> writes; versions 2 and 3 are read (they differ only in
    /// version 3 allowing big-endian files, which this reader refuses).</summary>
    public const uint CurrentVersion = 3;

    /// <summary>Alignment when <c>general.alignment</c> is absent.</summary>
    public const uint DefaultAlignment = 32;

    /// <summary>ggml's GGML_MAX_DIMS.</summary>
    public const int MaxDimensions = 4;

    /// <summary>Arrays nested deeper than this are refused (a hostile file could otherwise exhaust the stack).</summary>
    public const int MaxArrayDepth = 8;

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly FileMapping _mapping;
    private byte* _base;
    private readonly long _length;
    private readonly Dictionary<string, GgufValue> _metadata = new(StringComparer.Ordinal);
    private readonly List<string> _keys = new();
    private readonly Dictionary<string, GgufTensorInfo> _byName = new(StringComparer.Ordinal);
    private readonly List<GgufTensorInfo> _tensors = new();

    /// <summary>The path the file was opened from.</summary>
    public string Path { get; }

    /// <summary>The format version (2 or 3).</summary>
    public uint Version { get; private set; }

    /// <summary>The alignment of the data section and of every tensor's offset.</summary>
    public uint Alignment { get; private set; } = DefaultAlignment;

    /// <summary>Absolute offset of the data section.</summary>
    public long DataOffset { get; private set; }

    /// <summary><c>general.architecture</c>, or null when absent.</summary>
    public string? Architecture { get; private set; }

    /// <summary>How the file's tensor type ids are read, chosen by <see cref="Architecture"/>.</summary>
    public GgufTypeIdSpace TypeIdSpace { get; private set; }

    /// <summary>The metadata keys, in file order.</summary>
    public IReadOnlyList<string> Keys => _keys;

    /// <summary>The metadata by key.</summary>
    public IReadOnlyDictionary<string, GgufValue> Metadata => _metadata;

    /// <summary>The tensors, in the order of their infos in the file.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors => _tensors;

    private GgufFile(string path)
    {
        Path = path;
        _length = MappedFileLength.Of(path);
        if (_length < 4)
            throw new ModelFormatException(path, $"file is {_length} bytes, too short for the GGUF magic");
        _mapping = new FileMapping(path, _length);
        _base = _mapping.Base;
        try
        {
            Parse();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Maps a GGUF file and validates its header.</summary>
    /// <exception cref="ModelFormatException">The file is not valid GGUF.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static GgufFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no such file: {path}", path);
        return new GgufFile(path);
    }

    // --- metadata ----------------------------------------------------------------------------------------------

    /// <summary>Whether the file has that metadata key.</summary>
    public bool ContainsKey(string key) => _metadata.ContainsKey(key);

    /// <summary>The value of a key, or false when absent.</summary>
    public bool TryGetValue(string key, [NotNullWhen(true)] out GgufValue? value) => _metadata.TryGetValue(key, out value);

    /// <summary>The value of a key.</summary>
    /// <exception cref="ModelFormatException">The key is missing.</exception>
    public GgufValue GetValue(string key) =>
        _metadata.TryGetValue(key, out var v) ? v : throw new ModelFormatException(Path, $"missing metadata key '{key}'");

    private ModelFormatException WrongType(string key, GgufValue v, string expected) =>
        new(Path, $"metadata key '{key}' is {v.Describe()}, expected {expected}");

    /// <summary>A String value; false when the key is absent.</summary>
    /// <exception cref="ModelFormatException">The key holds another type.</exception>
    public bool TryGetString(string key, [NotNullWhen(true)] out string? value)
    {
        value = null;
        if (!_metadata.TryGetValue(key, out var v)) return false;
        if (v.Type != GgufValueType.String) throw WrongType(key, v, "String");
        value = v.AsString();
        return true;
    }

    /// <summary>A String value.</summary>
    /// <exception cref="ModelFormatException">The key is missing or holds another type.</exception>
    public string GetString(string key) =>
        TryGetString(key, out var s) ? s : throw new ModelFormatException(Path, $"missing metadata key '{key}'");

    /// <summary>An integer value of any integer type (converters differ: u32, i32, u64) that fits a u32; false when absent.</summary>
    /// <exception cref="ModelFormatException">The key holds a non-integer or a value outside the u32 range.</exception>
    public bool TryGetUInt32(string key, out uint value)
    {
        value = 0;
        if (!TryGetInteger(key, out long l)) return false;
        if (l is < 0 or > uint.MaxValue) throw new ModelFormatException(Path, $"metadata key '{key}' = {l} is outside the UInt32 range");
        value = (uint)l;
        return true;
    }

    /// <summary>An integer value that fits a u32 (see <see cref="TryGetUInt32"/>).</summary>
    /// <exception cref="ModelFormatException">The key is missing, not an integer, or out of range.</exception>
    public uint GetUInt32(string key) =>
        TryGetUInt32(key, out uint v) ? v : throw new ModelFormatException(Path, $"missing metadata key '{key}'");

    /// <summary>An integer value of any integer type as a long; false when absent.</summary>
    /// <exception cref="ModelFormatException">The key holds a non-integer, or a UInt64 above long.MaxValue.</exception>
    public bool TryGetInteger(string key, out long value)
    {
        value = 0;
        if (!_metadata.TryGetValue(key, out var v)) return false;
        if (!v.TryGetInteger(out value))
            throw v.Type == GgufValueType.UInt64
                ? new ModelFormatException(Path, $"metadata key '{key}' = {v.AsUInt64()} is outside the Int64 range")
                : WrongType(key, v, "an integer");
        return true;
    }

    /// <summary>A Float32 value (a Float64 is narrowed); false when absent.</summary>
    /// <exception cref="ModelFormatException">The key holds another type.</exception>
    public bool TryGetFloat32(string key, out float value)
    {
        value = 0;
        if (!_metadata.TryGetValue(key, out var v)) return false;
        if (!v.TryGetFloat(out double d)) throw WrongType(key, v, "Float32");
        value = (float)d;
        return true;
    }

    /// <summary>A Float32 value (a Float64 is narrowed).</summary>
    /// <exception cref="ModelFormatException">The key is missing or holds another type.</exception>
    public float GetFloat32(string key) =>
        TryGetFloat32(key, out float f) ? f : throw new ModelFormatException(Path, $"missing metadata key '{key}'");

    /// <summary>A Bool value; false when absent.</summary>
    /// <exception cref="ModelFormatException">The key holds another type.</exception>
    public bool TryGetBoolean(string key, out bool value)
    {
        value = false;
        if (!_metadata.TryGetValue(key, out var v)) return false;
        if (v.Type != GgufValueType.Bool) throw WrongType(key, v, "Bool");
        value = v.AsBoolean();
        return true;
    }

    /// <summary>A Bool value.</summary>
    /// <exception cref="ModelFormatException">The key is missing or holds another type.</exception>
    public bool GetBoolean(string key) =>
        TryGetBoolean(key, out bool b) ? b : throw new ModelFormatException(Path, $"missing metadata key '{key}'");

    /// <summary>An array of a fixed-size numeric type, viewed in place over the mapping; <typeparamref name="T"/> must
    /// match the element type exactly (int for Int32, float for Float32, ...).</summary>
    /// <exception cref="ModelFormatException">The key is missing or is not an array of that type.</exception>
    public ReadOnlySpan<T> GetArray<T>(string key) where T : unmanaged
    {
        var v = GetValue(key);
        var element = GgufValueTypes.Of<T>() ?? throw new NotSupportedException($"{typeof(T).Name} is not a GGUF element type");
        if (v.Type != GgufValueType.Array || v.ElementType != element) throw WrongType(key, v, $"Array of {element}");
        return v.AsSpan<T>();
    }

    /// <summary>An array of a fixed-size numeric type; false when the key is absent.</summary>
    /// <exception cref="ModelFormatException">The key is not an array of that type.</exception>
    public bool TryGetArray<T>(string key, out ReadOnlySpan<T> values) where T : unmanaged
    {
        values = default;
        if (!_metadata.ContainsKey(key)) return false;
        values = GetArray<T>(key);
        return true;
    }

    /// <summary>An array of strings (tokenizer tokens, merges): elements are decoded only when read.</summary>
    /// <exception cref="ModelFormatException">The key is missing or is not an array of strings.</exception>
    public GgufStringArray GetStringArray(string key)
    {
        var v = GetValue(key);
        if (v.Type != GgufValueType.Array || v.ElementType != GgufValueType.String) throw WrongType(key, v, "Array of String");
        return new GgufStringArray(this, key, v);
    }

    /// <summary>An array of strings; false when the key is absent.</summary>
    /// <exception cref="ModelFormatException">The key is not an array of strings.</exception>
    public bool TryGetStringArray(string key, [NotNullWhen(true)] out GgufStringArray? values)
    {
        values = _metadata.ContainsKey(key) ? GetStringArray(key) : null;
        return values is not null;
    }

    // --- tensors -----------------------------------------------------------------------------------------------

    /// <summary>Whether the file holds a tensor of that name.</summary>
    public bool ContainsTensor(string name) => _byName.ContainsKey(name);

    /// <summary>The tensor of that name, or null.</summary>
    public GgufTensorInfo? FindTensor(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The tensor of that name.</summary>
    /// <exception cref="ModelFormatException">The file has no such tensor.</exception>
    public GgufTensorInfo this[string name] =>
        _byName.TryGetValue(name, out var t) ? t : throw new ModelFormatException(Path, $"missing tensor '{name}'");

    /// <summary>The stored bytes of a tensor, straight from the mapping.</summary>
    public ReadOnlySpan<byte> GetTensorBytes(string name) => GetTensorBytes(this[name]);

    /// <summary>The stored bytes of a tensor of this file.</summary>
    public ReadOnlySpan<byte> GetTensorBytes(GgufTensorInfo t)
    {
        if (t.ByteLength > int.MaxValue)
            throw new NotSupportedException($"tensor '{t.Name}' is {t.ByteLength} bytes; spans are limited to 2 GiB");
        return Span(t.FileOffset, t.ByteLength);
    }

    /// <summary>Releases the resident pages of the mapping outside <paramref name="kept"/> (<see cref="MappedPages"/>).</summary>
    internal void ReleasePagesOutside(IReadOnlyList<(nint Address, long Length)> kept)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        _mapping.ReleasePagesOutside(kept);
    }

    internal ReadOnlySpan<byte> Span(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        return new ReadOnlySpan<byte>(_base + offset, checked((int)length));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _base = null;
        _mapping.Dispose();
    }

    // --- parsing -----------------------------------------------------------------------------------------------

    private long _pos;

    private ModelFormatException Error(string problem) => new(Path, problem);

    private void Need(long bytes, string what)
    {
        if (bytes < 0 || bytes > _length - _pos)
            throw Error($"truncated: {what} needs {(bytes < 0 ? "an impossible number of" : bytes.ToString(System.Globalization.CultureInfo.InvariantCulture))} bytes at offset {_pos}, but the file is {_length} bytes");
    }

    private uint ReadUInt32(string what)
    {
        Need(4, what);
        uint v = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(_base + _pos, 4));
        _pos += 4;
        return v;
    }

    private ulong ReadUInt64(string what)
    {
        Need(8, what);
        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_base + _pos, 8));
        _pos += 8;
        return v;
    }

    // a u64 length and that many bytes; returns the bytes' offset and length
    private (long Offset, long Length) ReadStringBytes(string what)
    {
        ulong n = ReadUInt64($"the length of {what}");
        if (n > (ulong)(_length - _pos))
            throw Error($"{what}: string length {n} at offset {_pos - 8} runs past the end of the {_length}-byte file");
        long at = _pos;
        _pos += (long)n;
        return (at, (long)n);
    }

    private string Decode(long offset, long length, string what)
    {
        if (length > int.MaxValue) throw Error($"{what}: string of {length} bytes is too long");
        try
        {
            return s_strictUtf8.GetString(new ReadOnlySpan<byte>(_base + offset, (int)length));
        }
        catch (DecoderFallbackException)
        {
            throw Error($"{what}: string at offset {offset} is not valid UTF-8");
        }
    }

    private string ReadString(string what)
    {
        var (at, n) = ReadStringBytes(what);
        return Decode(at, n, what);
    }

    private void CheckCount(ulong count, int minimumEach, string what)
    {
        if (minimumEach > 0 && count > (ulong)((_length - _pos) / minimumEach))
            throw Error($"{what}: count {count} is beyond the file ({_length - _pos} bytes remain at offset {_pos}, each needs at least {minimumEach})");
    }

    private void Parse()
    {
        var magic = new ReadOnlySpan<byte>(_base, 4);
        if (!magic.SequenceEqual(Magic))
            throw Error($"wrong magic 0x{Convert.ToHexString(magic)} (\"{Printable(magic)}\"), expected \"GGUF\": not a GGUF file");
        _pos = 4;
        uint version = ReadUInt32("the version");
        if ((version & 0xFFFF) == 0 && version != 0)
            throw Error($"version 0x{version:X8} looks byte-swapped: big-endian GGUF files are not supported");
        if (version == 1) throw Error("unsupported GGUF version 1 (only versions 2 and 3 are read; version 1 used 32-bit counts)");
        if (version is 0 or > CurrentVersion) throw Error($"unsupported GGUF version {version} (only versions 2 and 3 are read)");
        Version = version;

        ulong tensorCount = ReadUInt64("the tensor count");
        ulong kvCount = ReadUInt64("the key/value count");
        // each pair needs at least a key length, a type and one byte of value; each tensor info at least 24 bytes
        CheckCount(kvCount, 8 + 4 + 1, "metadata key/value pairs");
        CheckCount(tensorCount, 8 + 4 + 4 + 8, "tensor infos");

        for (ulong i = 0; i < kvCount; i++)
        {
            string key = ReadString($"metadata key #{i}");
            if (_metadata.ContainsKey(key)) throw Error($"duplicate metadata key '{key}'");
            uint tag = ReadUInt32($"the type of metadata key '{key}'");
            if (!GgufValueTypes.IsDefined(tag)) throw Error($"metadata key '{key}': unknown value type {tag}");
            _metadata.Add(key, ReadValue((GgufValueType)tag, $"metadata key '{key}'", 0));
            _keys.Add(key);
        }

        if (_metadata.TryGetValue(GgufKeys.Alignment, out var align))
        {
            if (align.Type != GgufValueType.UInt32) throw Error($"{GgufKeys.Alignment} is {align.Describe()}, expected UInt32");
            uint a = align.AsUInt32();
            if (a == 0 || (a & (a - 1)) != 0) throw Error($"{GgufKeys.Alignment} = {a} is not a power of two");
            Alignment = a;
        }
        if (_metadata.TryGetValue(GgufKeys.Architecture, out var arch))
        {
            if (arch.Type != GgufValueType.String) throw Error($"{GgufKeys.Architecture} is {arch.Describe()}, expected String");
            Architecture = arch.AsString();
        }
        TypeIdSpace = GgufTypes.IdSpaceOf(Architecture);

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
        {
            var info = ReadTensorInfo(i);
            if (!names.Add(info.Name)) throw Error($"duplicate tensor name '{info.Name}'");
            _tensors.Add(info);
        }

        // the data section starts at the next multiple of the alignment after the tensor infos
        long dataOffset = (_pos + Alignment - 1) / Alignment * Alignment;
        DataOffset = dataOffset;
        long dataLength = _length - Math.Min(dataOffset, _length);
        for (int i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            if (t.Offset > dataLength || t.ByteLength > dataLength - t.Offset)
                throw Error($"tensor '{t.Name}': data [{t.Offset}, {t.Offset + t.ByteLength}) is out of bounds of the {dataLength}-byte data section (file truncated?)");
            _tensors[i] = t with { FileOffset = dataOffset + t.Offset };
            _byName.Add(t.Name, _tensors[i]);
        }
        var byOffset = _tensors.OrderBy(t => t.Offset).ToArray();
        for (int i = 1; i < byOffset.Length; i++)
            if (byOffset[i].Offset < byOffset[i - 1].Offset + byOffset[i - 1].ByteLength)
                throw Error($"tensors '{byOffset[i - 1].Name}' and '{byOffset[i].Name}' overlap");
    }

    private GgufValue ReadValue(GgufValueType type, string what, int depth)
    {
        long start = _pos;
        switch (type)
        {
            case GgufValueType.String:
            {
                var (at, n) = ReadStringBytes(what);
                return new GgufValue(type, this, null, start, _pos - start, text: Decode(at, n, what));
            }
            case GgufValueType.Array:
            {
                if (depth >= MaxArrayDepth) throw Error($"{what}: arrays nested deeper than {MaxArrayDepth}");
                uint tag = ReadUInt32($"the element type of {what}");
                if (!GgufValueTypes.IsDefined(tag)) throw Error($"{what}: unknown array element type {tag}");
                var element = (GgufValueType)tag;
                ulong count = ReadUInt64($"the element count of {what}");
                CheckCount(count, GgufValueTypes.MinimumSize(element), $"{what}: array of {element}");
                long n = (long)count;
                if (element == GgufValueType.String)
                {
                    var starts = new long[n + 1];
                    for (long i = 0; i < n; i++)
                    {
                        starts[i] = _pos - start;
                        ReadStringBytes($"{what}[{i}]");
                    }
                    starts[n] = _pos - start;
                    return new GgufValue(type, this, null, start, _pos - start, element, n, stringStarts: starts);
                }
                if (element == GgufValueType.Array)
                {
                    var items = new GgufValue[n];
                    for (long i = 0; i < n; i++) items[i] = ReadValue(GgufValueType.Array, $"{what}[{i}]", depth + 1);
                    return new GgufValue(type, this, null, start, _pos - start, element, n, items: items);
                }
                long bytes = n * GgufValueTypes.FixedSize(element); // CheckCount bounded n by the file length
                Need(bytes, $"{what} ({n} × {element})");
                _pos += bytes;
                return new GgufValue(type, this, null, start, _pos - start, element, n);
            }
            default:
            {
                int size = GgufValueTypes.FixedSize(type);
                Need(size, what);
                _pos += size;
                return new GgufValue(type, this, null, start, size);
            }
        }
    }

    private GgufTensorInfo ReadTensorInfo(ulong index)
    {
        string name = ReadString($"the name of tensor #{index}");
        uint nDims = ReadUInt32($"the dimension count of tensor '{name}'");
        if (nDims > MaxDimensions) throw Error($"tensor '{name}': n_dims {nDims} > {MaxDimensions}");
        var dims = new long[nDims];
        for (int d = 0; d < nDims; d++)
        {
            ulong ne = ReadUInt64($"dimension {d} of tensor '{name}'");
            if (ne > long.MaxValue) throw Error($"tensor '{name}': dimension {d} = {ne} is negative as ggml's int64");
            dims[d] = (long)ne;
        }
        long elements = 1;
        foreach (long ne in dims)
            if (ne != 0 && elements > long.MaxValue / ne)
                throw Error($"tensor '{name}': dimensions [{string.Join(", ", dims)}] overflow: their product does not fit 64 bits");
            else elements *= ne;
        uint typeId = ReadUInt32($"the type of tensor '{name}'");
        if (!GgufTypes.TryGet(typeId, TypeIdSpace, out var type))
            throw Error($"tensor '{name}': unknown tensor type {typeId}{GgufTypes.Explain(typeId, TypeIdSpace)}");
        long rowLength = nDims == 0 ? 1 : dims[0];
        if (rowLength % type.BlockSize != 0)
            throw Error($"tensor '{name}': row length {rowLength} is not a multiple of the {type.Name} block size {type.BlockSize}");
        long byteLength = type.TryByteSize(dims)
            ?? throw Error($"tensor '{name}': {type.Name} [{string.Join(", ", dims)}] has a byte size that overflows");
        ulong offset = ReadUInt64($"the data offset of tensor '{name}'");
        if (offset > long.MaxValue) throw Error($"tensor '{name}': data offset {offset} is out of bounds");
        if (offset % Alignment != 0) throw Error($"tensor '{name}': data offset {offset} is misaligned (not a multiple of {Alignment})");
        return new GgufTensorInfo(name, type, dims, (long)offset, 0, byteLength);
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        foreach (byte b in bytes) sb.Append(b is >= 0x20 and < 0x7F ? (char)b : '.');
        return sb.ToString();
    }
}
