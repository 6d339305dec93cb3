using System.Buffers.Binary;
using System.Text.Json;

namespace BitNet.Models;

/// <summary>One tensor of a model file: its element type, shape, and where its bytes lie in the file.</summary>
/// <param name="Name">The tensor's name as stored.</param>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions, outermost first (row-major, as safetensors and PyTorch store them).</param>
/// <param name="FileOffset">Absolute byte offset of the first element in the file.</param>
/// <param name="ByteLength">Bytes of data.</param>
public sealed record TensorInfo(string Name, DType DType, long[] Shape, long FileOffset, long ByteLength)
{
    /// <summary>The product of the dimensions (1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>"[512, 256]".</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// A memory-mapped safetensors file (an 8-byte little-endian header length, a JSON header, raw tensor bytes).
/// Nothing is copied: <see cref="GetBytes(string)"/> returns spans over the mapping, valid until Dispose.
/// Every header field is checked against the file before it is used, so a truncated or hostile file gives a
/// <see cref="ModelFormatException"/> naming the problem, never a read outside the file.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>Headers above this size are refused (the reference implementation's limit is 100 MB).</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    private readonly FileMapping _mapping;
    private byte* _base;
    private readonly long _length;
    private readonly Dictionary<string, TensorInfo> _byName;

    /// <summary>The path the file was opened from.</summary>
    public string Path { get; }

    /// <summary>The "__metadata__" strings of the header (empty if absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensors, in the order of their data in the file.</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }

    private SafetensorsFile(string path)
    {
        Path = path;
        var fileLength = MappedFileLength.Of(path);
        if (fileLength < 8)
            throw new ModelFormatException(path, $"file is {fileLength} bytes, shorter than the 8-byte header length");
        _length = fileLength;
        _mapping = new FileMapping(path, fileLength);
        _base = _mapping.Base;
        try
        {
            (Metadata, Tensors) = ParseHeader(path, new ReadOnlySpan<byte>(_base, (int)Math.Min(_length, int.MaxValue)), _length);
        }
        catch
        {
            Dispose();
            throw;
        }
        _byName = Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Maps a safetensors file and validates its header.</summary>
    /// <exception cref="ModelFormatException">The file is not valid safetensors.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no such file: {path}", path);
        return new SafetensorsFile(path);
    }

    /// <summary>Whether the file holds a tensor of that name.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The tensor of that name, or null.</summary>
    public TensorInfo? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The tensor of that name.</summary>
    /// <exception cref="ModelFormatException">The file has no such tensor.</exception>
    public TensorInfo this[string name] =>
        _byName.TryGetValue(name, out var t) ? t : throw new ModelFormatException(Path, $"missing tensor '{name}'");

    /// <summary>The raw little-endian bytes of a tensor, straight from the mapping.</summary>
    public ReadOnlySpan<byte> GetBytes(string name) => GetBytes(this[name]);

    /// <summary>The raw bytes of a tensor of this file.</summary>
    public ReadOnlySpan<byte> GetBytes(TensorInfo t)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        if (t.ByteLength > int.MaxValue)
            throw new NotSupportedException($"tensor '{t.Name}' is {t.ByteLength} bytes; spans are limited to 2 GiB");
        return new ReadOnlySpan<byte>(_base + t.FileOffset, (int)t.ByteLength);
    }

    /// <summary>Releases the resident pages of the mapping outside <paramref name="kept"/> (<see cref="MappedPages"/>).</summary>
    internal void ReleasePagesOutside(IReadOnlyList<(nint Address, long Length)> kept)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        _mapping.ReleasePagesOutside(kept);
    }

    /// <summary>A float tensor (F32, F16, BF16 or F64) widened to float32.</summary>
    public float[] ReadSingles(string name)
    {
        var t = this[name];
        var result = new float[t.ElementCount];
        FloatConvert.ToSingle(t.DType, GetBytes(t), result);
        return result;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _base = null;
        _mapping.Dispose();
    }

    private static (IReadOnlyDictionary<string, string>, IReadOnlyList<TensorInfo>) ParseHeader(
        string path, ReadOnlySpan<byte> file, long fileLength)
    {
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLength > (ulong)MaxHeaderBytes)
            throw new ModelFormatException(path, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");
        if (8 + (long)headerLength > fileLength)
            throw new ModelFormatException(path, $"header length {headerLength} runs past the end of the {fileLength}-byte file");
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(file.Slice(8, (int)headerLength).ToArray());
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"header is not valid JSON: {e.Message}");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(path, "header is not a JSON object");
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var tensors = new List<TensorInfo>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(entry.Name))
                    throw new ModelFormatException(path, $"tensor '{entry.Name}' appears twice in the header");
                if (entry.Name == "__metadata__")
                {
                    if (entry.Value.ValueKind != JsonValueKind.Object)
                        throw new ModelFormatException(path, "__metadata__ is not an object");
                    foreach (var m in entry.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new ModelFormatException(path, $"__metadata__ value '{m.Name}' is not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                tensors.Add(ParseTensor(path, entry, dataStart, dataLength));
            }
            tensors.Sort((a, b) => a.FileOffset.CompareTo(b.FileOffset));
            for (int i = 1; i < tensors.Count; i++)
                if (tensors[i].FileOffset < tensors[i - 1].FileOffset + tensors[i - 1].ByteLength)
                    throw new ModelFormatException(path, $"tensors '{tensors[i - 1].Name}' and '{tensors[i].Name}' overlap");
            return (metadata, tensors);
        }
    }

    private static TensorInfo ParseTensor(string path, JsonProperty entry, long dataStart, long dataLength)
    {
        string name = entry.Name;
        var v = entry.Value;
        if (v.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException(path, $"tensor '{name}': entry is not an object");
        if (!v.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw new ModelFormatException(path, $"tensor '{name}': missing dtype");
        string dtypeName = dtypeEl.GetString()!;
        if (!DTypes.TryParseSafetensors(dtypeName, out var dtype))
            throw new ModelFormatException(path, $"tensor '{name}': unknown dtype '{dtypeName}'");
        if (!v.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw new ModelFormatException(path, $"tensor '{name}': missing shape");
        var shape = new long[shapeEl.GetArrayLength()];
        long count = 1;
        int i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw new ModelFormatException(path, $"tensor '{name}': shape has an invalid dimension {d}");
            shape[i++] = dim;
            count = dim == 0 ? 0 : (count > long.MaxValue / dim ? throw new ModelFormatException(path, $"tensor '{name}': shape {shapeEl} overflows") : count * dim);
        }
        if (!v.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2
            || !offEl[0].TryGetInt64(out long begin) || !offEl[1].TryGetInt64(out long end))
            throw new ModelFormatException(path, $"tensor '{name}': data_offsets must be two integers");
        if (begin < 0 || end < begin)
            throw new ModelFormatException(path, $"tensor '{name}': data_offsets [{begin}, {end}] are not an increasing pair");
        if (end > dataLength)
            throw new ModelFormatException(path, $"tensor '{name}': data_offsets end {end} is beyond the {dataLength} bytes of data (file truncated?)");
        long expected = count * DTypes.SizeOf(dtype);
        if (end - begin != expected)
            throw new ModelFormatException(path, $"tensor '{name}': {end - begin} bytes of data, but {dtypeName} {FormatShape(shape)} needs {expected}");
        return new TensorInfo(name, dtype, shape, dataStart + begin, end - begin);
    }

    private static string FormatShape(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
