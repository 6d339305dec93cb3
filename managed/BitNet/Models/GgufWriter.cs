using System.Text;

namespace BitNet.Models;

/// <summary>Fills a tensor's stored bytes when <see cref="GgufWriter.Save"/> reaches it (<paramref name="destination"/> is
/// exactly the tensor's size and may hold an earlier tensor's bytes: write every byte).</summary>
public delegate void GgufTensorSource(Span<byte> destination);

/// <summary>
/// Builds a GGUF version 3 file: metadata in the order it was first set, then the tensor infos, then the tensor
/// data, each tensor at an offset that is a multiple of <c>general.alignment</c> (32 unless that key is set to
/// another power of two) and padded with zeros to it, as ggml's <c>gguf_write</c> does. The same inputs give the
/// same bytes. A tensor may be added as a <see cref="GgufTensorSource"/> that produces its bytes during <see cref="Save"/>,
/// so that a large model is generated one tensor at a time instead of held whole. <see cref="Save"/> writes to a
/// temporary name beside the target and renames it, so a failure never leaves a partial file.
/// </summary>
public sealed class GgufWriter
{
    /// <summary>ggml's GGML_MAX_NAME is 64 bytes including the terminator: longer names do not load in llama.cpp.</summary>
    public const int MaxTensorNameBytes = 63;

    private readonly List<string> _keys = new();
    private readonly Dictionary<string, GgufValue> _values = new(StringComparer.Ordinal);
    private readonly List<(string Name, GgufType Type, long[] Dims, long Size, ReadOnlyMemory<byte> Data, GgufTensorSource? Source)> _tensors = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>The metadata keys, in the order they will be written.</summary>
    public IReadOnlyList<string> Keys => _keys;

    /// <summary>Sets a metadata value; setting a key again replaces its value and keeps its place. A value read from
    /// a <see cref="GgufFile"/> (to copy a tokenizer, say) is a view: keep that file open until <see cref="Save"/>.</summary>
    public void Set(string key, GgufValue value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        if (key == GgufKeys.Alignment)
        {
            if (value.Type != GgufValueType.UInt32) throw new ArgumentException($"{GgufKeys.Alignment} must be UInt32", nameof(value));
            uint a = value.AsUInt32();
            if (a == 0 || (a & (a - 1)) != 0) throw new ArgumentException($"{GgufKeys.Alignment} = {a} is not a power of two", nameof(value));
        }
        if (key == GgufKeys.Architecture && value.Type != GgufValueType.String)
            throw new ArgumentException($"{GgufKeys.Architecture} must be a String", nameof(value));
        if (!_values.ContainsKey(key)) _keys.Add(key);
        _values[key] = value;
    }

    /// <summary>Sets a String value.</summary>
    public void SetString(string key, string value) => Set(key, GgufValue.FromString(value));

    /// <summary>Sets a UInt32 value.</summary>
    public void SetUInt32(string key, uint value) => Set(key, GgufValue.FromUInt32(value));

    /// <summary>Sets a Float32 value.</summary>
    public void SetFloat32(string key, float value) => Set(key, GgufValue.FromFloat32(value));

    /// <summary>Sets a Bool value.</summary>
    public void SetBoolean(string key, bool value) => Set(key, GgufValue.FromBoolean(value));

    /// <summary>Sets an array of strings.</summary>
    public void SetStringArray(string key, IReadOnlyList<string> values) => Set(key, GgufValue.FromStringArray(values));

    /// <summary>Sets an array of a numeric type.</summary>
    public void SetArray<T>(string key, ReadOnlySpan<T> values) where T : unmanaged => Set(key, GgufValue.FromArray(values));

    /// <summary>The alignment the file will use.</summary>
    public uint Alignment => _values.TryGetValue(GgufKeys.Alignment, out var v) ? v.AsUInt32() : GgufFile.DefaultAlignment;

    /// <summary>Adds a tensor from its stored bytes (not copied: keep them unchanged until <see cref="Save"/>).</summary>
    /// <param name="name">The GGUF name ("blk.0.attn_q.weight"), at most 63 UTF-8 bytes.</param>
    /// <param name="type">The ggml type the bytes are in.</param>
    /// <param name="dimensions">GGUF order: dimensions[0] is the row length (a PyTorch [out, in] weight is [in, out]); at most 4.</param>
    /// <param name="data">Exactly <see cref="GgufType.ByteSize"/> bytes.</param>
    public void AddTensor(string name, GgufType type, ReadOnlySpan<long> dimensions, ReadOnlyMemory<byte> data)
    {
        long expected = CheckTensor(name, type, dimensions);
        if (data.Length != expected)
            throw new ArgumentException($"tensor '{name}': {data.Length} bytes, but {type.Name} [{string.Join(", ", dimensions.ToArray())}] needs {expected}", nameof(data));
        if (!_names.Add(name)) throw new ArgumentException($"tensor '{name}' was already added", nameof(name));
        _tensors.Add((name, type, dimensions.ToArray(), expected, data, null));
    }

    /// <summary>Adds a tensor whose bytes <paramref name="source"/> writes during <see cref="Save"/>, into a buffer of
    /// exactly <see cref="GgufType.ByteSize"/> bytes that the next source reuses.</summary>
    /// <param name="name">The GGUF name, at most 63 UTF-8 bytes.</param>
    /// <param name="type">The ggml type the bytes are in.</param>
    /// <param name="dimensions">GGUF order (dimensions[0] is the row length); at most 4.</param>
    /// <param name="source">Called once, in tensor order.</param>
    public void AddTensor(string name, GgufType type, ReadOnlySpan<long> dimensions, GgufTensorSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        long expected = CheckTensor(name, type, dimensions);
        if (expected > Array.MaxLength)
            throw new ArgumentException($"tensor '{name}': {expected} bytes is more than one buffer holds", nameof(dimensions));
        if (!_names.Add(name)) throw new ArgumentException($"tensor '{name}' was already added", nameof(name));
        _tensors.Add((name, type, dimensions.ToArray(), expected, default, source));
    }

    private static long CheckTensor(string name, GgufType type, ReadOnlySpan<long> dimensions)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(type);
        if (Encoding.UTF8.GetByteCount(name) > MaxTensorNameBytes)
            throw new ArgumentException($"tensor name '{name}' is longer than {MaxTensorNameBytes} bytes", nameof(name));
        if (dimensions.Length > GgufFile.MaxDimensions)
            throw new ArgumentException($"tensor '{name}': {dimensions.Length} dimensions, at most {GgufFile.MaxDimensions}", nameof(dimensions));
        foreach (long d in dimensions)
            if (d < 0) throw new ArgumentException($"tensor '{name}': negative dimension {d}", nameof(dimensions));
        return type.TryByteSize(dimensions)
            ?? throw new ArgumentException($"tensor '{name}': row length {dimensions[0]} is not a multiple of the {type.Name} block size {type.BlockSize}", nameof(dimensions));
    }

    /// <summary>Writes the file (temporary name, then rename).</summary>
    /// <exception cref="InvalidOperationException">A tensor's type id means something else under the file's architecture
    /// (bitnet.cpp numbers 36–39 differently from upstream ggml).</exception>
    public void Save(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("GGUF writing needs a little-endian machine");
        string? arch = _values.TryGetValue(GgufKeys.Architecture, out var a) ? a.AsString() : null;
        var space = GgufTypes.IdSpaceOf(arch);
        foreach (var t in _tensors)
            if (!GgufTypes.TryGet(t.Type.Id, space, out var readBack) || readBack != t.Type)
                throw new InvalidOperationException(
                    $"tensor '{t.Name}': type {t.Type.Name} (id {t.Type.Id}) would read back as {(readBack?.Name ?? "unknown")} in a file of architecture '{arch ?? "(none)"}'");

        long align = Alignment;
        string full = System.IO.Path.GetFullPath(path);
        string tmp = full + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                var w = new BinaryWriter(fs, Encoding.UTF8, leaveOpen: true); // little-endian on every platform
                w.Write(GgufFile.Magic);
                w.Write(GgufFile.CurrentVersion);
                w.Write((ulong)_tensors.Count);
                w.Write((ulong)_keys.Count);
                foreach (string key in _keys)
                {
                    WriteString(w, key);
                    var v = _values[key];
                    w.Write((uint)v.Type);
                    w.Write(v.Payload);
                }
                long offset = 0;
                foreach (var t in _tensors)
                {
                    WriteString(w, t.Name);
                    w.Write((uint)t.Dims.Length);
                    foreach (long d in t.Dims) w.Write((ulong)d);
                    w.Write(t.Type.Id);
                    w.Write((ulong)offset);
                    offset += Pad(t.Size, align);
                }
                w.Flush();
                WriteZeros(fs, Pad(fs.Position, align) - fs.Position);
                long bufferSize = 0;
                foreach (var t in _tensors)
                    if (t.Source is not null) bufferSize = Math.Max(bufferSize, t.Size);
                byte[] buffer = bufferSize > 0 ? new byte[bufferSize] : [];
                foreach (var t in _tensors)
                {
                    if (t.Source is { } source)
                    {
                        Span<byte> data = buffer.AsSpan(0, (int)t.Size);
                        source(data);
                        fs.Write(data);
                    }
                    else
                    {
                        fs.Write(t.Data.Span);
                    }
                    WriteZeros(fs, Pad(t.Size, align) - t.Size);
                }
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    private static long Pad(long n, long align) => (n + align - 1) / align * align;

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] b = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)b.Length);
        w.Write(b);
    }

    private static void WriteZeros(Stream s, long n)
    {
        Span<byte> zeros = stackalloc byte[256];
        zeros.Clear();
        while (n > 0)
        {
            int k = (int)Math.Min(n, zeros.Length);
            s.Write(zeros[..k]);
            n -= k;
        }
    }
}
