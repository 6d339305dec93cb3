using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace BitNet.Models;

/// <summary>
/// Builds a safetensors file: tensors are added in memory, then <see cref="Save"/> writes the header and data to a
/// temporary name beside the target and renames it, so a failure never leaves a partial file.
/// </summary>
public sealed class SafetensorsWriter
{
    private readonly List<(string Name, DType DType, long[] Shape, ReadOnlyMemory<byte> Data)> _tensors = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>Strings stored under "__metadata__".</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>Adds a tensor from raw little-endian bytes.</summary>
    public void Add(string name, DType dtype, ReadOnlySpan<long> shape, ReadOnlyMemory<byte> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved", nameof(name));
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0) throw new ArgumentException($"tensor '{name}': negative dimension {d}", nameof(shape));
            count *= d;
        }
        if (count * DTypes.SizeOf(dtype) != data.Length)
            throw new ArgumentException($"tensor '{name}': {data.Length} bytes do not fit {dtype} [{string.Join(", ", shape.ToArray())}]");
        if (!_names.Add(name)) throw new ArgumentException($"tensor '{name}' was already added", nameof(name));
        _tensors.Add((name, dtype, shape.ToArray(), data));
    }

    /// <summary>Adds an F32 tensor (the values are copied).</summary>
    public void AddSingles(string name, ReadOnlySpan<float> values, params long[] shape) =>
        Add(name, DType.F32, shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>Adds an I32 tensor (the values are copied).</summary>
    public void AddInt32s(string name, ReadOnlySpan<int> values, params long[] shape) =>
        Add(name, DType.I32, shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>Writes the file (temporary name, then rename).</summary>
    public void Save(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing needs a little-endian machine");
        byte[] header = BuildHeader();
        string full = System.IO.Path.GetFullPath(path);
        string tmp = full + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
                fs.Write(len);
                fs.Write(header);
                foreach (var t in _tensors) fs.Write(t.Data.Span);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    private byte[] BuildHeader()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (Metadata.Count > 0)
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in Metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in _tensors)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", DTypes.SafetensorsName(t.DType));
                w.WriteStartArray("shape");
                foreach (long d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + t.Data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.Data.Length;
            }
            w.WriteEndObject();
        }
        // pad with spaces so the data starts 8-byte aligned, as the reference writer does
        int pad = (int)((8 - ms.Length % 8) % 8);
        for (int i = 0; i < pad; i++) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }
}
