using System.Runtime.InteropServices;
using BitNet.Inference.Sampling;
using BitNet.Quantization;
using BitNet.Tokenization;

namespace BitNet.Models;

/// <summary>Options of <see cref="RandomModelWriter.Write"/>.</summary>
public sealed record RandomModelOptions
{
    /// <summary>The type of the ternary projections (default TQ2_0; F32 is not offered: F16 holds ternary × scale exactly).</summary>
    public TernaryFileType TernaryType { get; init; } = TernaryFileType.TQ2_0;

    /// <summary>The type of the tied embedding (default Q6_K, what <c>llama-quantize</c> gives it).</summary>
    public EmbeddingType EmbeddingType { get; init; } = EmbeddingType.Q6_K;

    /// <summary>The seed: the same seed, shape and types give the same file, byte for byte. Across machines too, except
    /// that the embedding's Gaussian values go through <c>Math.Log</c> and <c>Math.Cos</c>, which C
    /// runtimes may round differently in the last bit.</summary>
    public ulong Seed { get; init; }

    /// <summary>The I2_S layout; null: the host's.</summary>
    public PackedFormat? I2SLayout { get; init; }

    /// <summary><c>general.name</c>; null: "bitnet-random-seed{Seed}".</summary>
    public string? Name { get; init; }
}

/// <summary>
/// Writes a GGUF BitNet b1.58 model of a given shape (<see cref="ModelPresets"/>) with random weights, for benchmarks and
/// loader tests where the real weights are not needed: ternary codes uniform over {-1, 0, +1} with one scale per tensor
/// uniform in [0.02, 0.05] (rounded to fp16, so every ternary type stores it exactly); RMSNorm weights uniform in
/// [0.9, 1.1]; the tied embedding N(0, 0.02) in <see cref="RandomModelOptions.EmbeddingType"/>; metadata and tokenizer as
/// <see cref="GgufModelWriter"/> writes them. Tensors are generated while the file is written, one at a time, so memory
/// stays at one stored tensor plus one tensor's codes (the embedding's floats exist a block of rows at a time). Every
/// embedding row and every block of projection rows has its own xoshiro256** stream keyed by (seed, tensor, row or
/// block), so blocks are generated in parallel and the bytes do not depend on the thread count.
/// </summary>
public static class RandomModelWriter
{
    /// <summary>Standard deviation of the embedding values.</summary>
    public const float EmbeddingStdDev = 0.02f;

    private const int EmbeddingRowsPerChunk = 256;
    private const int TernaryRowsPerBlock = 64;

    // byte v < 243 -> its five base-3 digits, least significant first, each minus 1
    private static readonly sbyte[] s_fiveTrits = BuildFiveTrits();

    private static sbyte[] BuildFiveTrits()
    {
        var t = new sbyte[243 * 5];
        for (int v = 0; v < 243; v++)
            for (int k = 0, x = v; k < 5; k++, x /= 3) t[v * 5 + k] = (sbyte)(x % 3 - 1);
        return t;
    }
    private const ulong EmbeddingStream = 0x656D6264; // "embd"; tensors after it use stream 1 + their index

    /// <summary>Writes the model (temporary name, then rename) and returns the file's size in bytes.</summary>
    /// <param name="config">The shape (<see cref="ModelPresets"/>); its vocabulary must be the tokenizer's.</param>
    /// <param name="tokenizer">Written as <c>tokenizer.ggml.*</c>.</param>
    /// <param name="path">The GGUF file.</param>
    /// <param name="options">Types and seed (default: TQ2_0, Q6_K, seed 0).</param>
    /// <param name="progress">Receives the fraction of tensor bytes written, after each tensor.</param>
    /// <exception cref="ArgumentException">The tokenizer's vocabulary is not <see cref="ModelConfig.VocabSize"/>, or a type
    /// that cannot hold the shape (Q6_K and TQ types need a hidden size that is a multiple of 256).</exception>
    public static long Write(ModelConfig config, BpeTokenizer tokenizer, string path, RandomModelOptions? options = null,
                             IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new RandomModelOptions();
        if (tokenizer.VocabSize != config.VocabSize)
            throw new ArgumentException($"the tokenizer has {tokenizer.VocabSize} tokens, the model's vocabulary is {config.VocabSize}", nameof(tokenizer));
        if (options.TernaryType == TernaryFileType.F32)
            throw new ArgumentException("random models take TQ2_0, TQ1_0, I2_S or F16 projections", nameof(options));

        string arch = GgufModelWriter.ArchitectureOf(options.TernaryType);
        var w = new GgufWriter();
        int? eot = tokenizer.TokenToId("<|eot_id|>");
        GgufModelWriter.SetMetadata(w, arch, options.Name ?? $"bitnet-random-seed{options.Seed}", config, tokenizer, eot);

        var tensors = new List<(string Name, GgufType Type, long[] Dims, GgufTensorSource Source)>();
        ulong seed = options.Seed;
        int hidden = config.HiddenSize, vocab = config.VocabSize;
        tensors.Add(("token_embd.weight", EmbeddingTypes.ToGguf(options.EmbeddingType), [hidden, vocab],
            dst => FillEmbedding(seed, vocab, hidden, options.EmbeddingType, dst)));

        PackedFormat i2s = options.I2SLayout ?? GgufModelWriter.HostI2SLayout;
        (PackedFormat? format, GgufType ternaryType) = options.TernaryType switch
        {
            TernaryFileType.TQ1_0 => (PackedFormat.Tq1_0, GgufTypes.TQ1_0),
            TernaryFileType.TQ2_0 => (PackedFormat.Tq2_0, GgufTypes.TQ2_0),
            TernaryFileType.I2_S => (i2s, GgufTypes.I2_S),
            _ => ((PackedFormat?)null, GgufTypes.F16),
        };
        int maxCodes = Math.Max(Math.Max(hidden * hidden, config.IntermediateSize * hidden), config.KeyValueSize * hidden);
        var codes = new sbyte[maxCodes];
        for (int l = 0; l < config.LayerCount; l++)
        {
            int[] normLengths = [hidden, hidden, hidden, config.IntermediateSize];
            for (int i = 0; i < 4; i++)
            {
                ulong stream = 1 + (ulong)tensors.Count;
                tensors.Add(($"blk.{l}.{GgufModelWriter.NormNames[i]}.weight", GgufTypes.F32, [normLengths[i]], dst => FillNorm(seed, stream, dst)));
            }
            for (int i = 0; i < 7; i++)
            {
                (int rows, int cols) = i switch
                {
                    0 or 3 => (hidden, hidden),
                    1 or 2 => (config.KeyValueSize, hidden),
                    4 or 5 => (config.IntermediateSize, hidden),
                    _ => (hidden, config.IntermediateSize),
                };
                ulong stream = 1 + (ulong)tensors.Count;
                tensors.Add(($"blk.{l}.{GgufModelWriter.ProjectionNames[i]}.weight", ternaryType, [cols, rows],
                    dst => FillTernary(seed, stream, rows, cols, format, codes, dst)));
            }
        }
        ulong finalStream = 1 + (ulong)tensors.Count;
        tensors.Add(("output_norm.weight", GgufTypes.F32, [hidden], dst => FillNorm(seed, finalStream, dst)));

        long total = 0;
        foreach (var t in tensors) total += t.Type.ByteSize(t.Dims);
        long done = 0;
        foreach (var t in tensors)
        {
            long size = t.Type.ByteSize(t.Dims);
            w.AddTensor(t.Name, t.Type, t.Dims, dst =>
            {
                t.Source(dst);
                done += size;
                progress?.Report((double)done / total);
            });
        }
        w.Save(path);
        return new FileInfo(path).Length;
    }

    /// <summary>Row <paramref name="row"/> of the embedding that <see cref="Write"/> generates for <paramref name="seed"/>,
    /// as floats before they are stored in the file's type (to check a stored row against).</summary>
    public static void EmbeddingRow(ulong seed, int row, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        var rng = Stream(seed, EmbeddingStream, (ulong)row);
        for (int i = 0; i < destination.Length; i += 2)
        {
            (float a, float b) = NextGaussianPair(rng);
            destination[i] = a * EmbeddingStdDev;
            if (i + 1 < destination.Length) destination[i + 1] = b * EmbeddingStdDev;
        }
    }

    // chunks of rows in parallel: every row has its own stream, so the bytes do not depend on the thread count
    private static unsafe void FillEmbedding(ulong seed, int vocab, int hidden, EmbeddingType type, Span<byte> dst)
    {
        int rowBytes = EmbeddingTypes.RowBytes(type, hidden);
        int chunks = (vocab + EmbeddingRowsPerChunk - 1) / EmbeddingRowsPerChunk;
        fixed (byte* basePtr = dst)
        {
            byte* p = basePtr;
            Parallel.For(0, chunks, () => new float[EmbeddingRowsPerChunk * hidden], (chunkIndex, _, x) =>
            {
                int r0 = chunkIndex * EmbeddingRowsPerChunk, n = Math.Min(EmbeddingRowsPerChunk, vocab - r0);
                Span<float> chunk = x.AsSpan(0, n * hidden);
                for (int r = 0; r < n; r++) EmbeddingRow(seed, r0 + r, chunk.Slice(r * hidden, hidden));
                var out_ = new Span<byte>(p + (long)r0 * rowBytes, n * rowBytes);
                switch (type)
                {
                    case EmbeddingType.Q6_K: EmbeddingTypes.QuantizeQ6_K(chunk, n, hidden, out_); break;
                    case EmbeddingType.F16:
                        var h = MemoryMarshal.Cast<byte, Half>(out_);
                        for (int i = 0; i < chunk.Length; i++) h[i] = (Half)chunk[i];
                        break;
                    case EmbeddingType.BF16:
                        var b = MemoryMarshal.Cast<byte, ushort>(out_);
                        for (int i = 0; i < chunk.Length; i++) b[i] = FloatConvert.SingleToBF16(chunk[i]);
                        break;
                    case EmbeddingType.Q8_0:
                        for (int r = 0; r < n; r++) EmbeddingTypes.QuantizeQ8_0(chunk.Slice(r * hidden, hidden), out_.Slice(r * rowBytes, rowBytes));
                        break;
                    default: MemoryMarshal.AsBytes(chunk).CopyTo(out_); break;
                }
                return x;
            }, _ => { });
        }
    }

    private static void FillNorm(ulong seed, ulong stream, Span<byte> dst)
    {
        var rng = Stream(seed, stream, 0);
        Span<float> v = MemoryMarshal.Cast<byte, float>(dst);
        for (int i = 0; i < v.Length; i++) v[i] = 0.9f + 0.2f * NextSingle(rng);
    }

    // codes uniform over {-1, 0, +1}: one byte of a stream gives five codes (its base-3 digits), bytes 243..255
    // rejected so that every five-code pattern is equally likely. The scale comes from stream (tensor, 0), the codes of
    // each block of TernaryRowsPerBlock rows from stream (tensor, 1 + block), blocks in parallel.
    private static void FillTernary(ulong seed, ulong stream, int rows, int cols, PackedFormat? format, sbyte[] buffer, Span<byte> dst)
    {
        var scaleRng = Stream(seed, stream, 0);
        float scale = (float)(Half)(0.02f + 0.03f * NextSingle(scaleRng));
        int blocks = (rows + TernaryRowsPerBlock - 1) / TernaryRowsPerBlock;
        Parallel.For(0, blocks, block =>
        {
            int r0 = block * TernaryRowsPerBlock, n = Math.Min(TernaryRowsPerBlock, rows - r0);
            Span<sbyte> codes = buffer.AsSpan(r0 * cols, n * cols);
            var rng = Stream(seed, stream, 1 + (ulong)block);
            ReadOnlySpan<sbyte> table = s_fiveTrits;
            ulong bits = 0;
            int left = 0;
            for (int i = 0; i < codes.Length; i += 5)
            {
                uint b;
                do
                {
                    if (left == 0) { bits = rng.NextUInt64(); left = 8; }
                    b = (uint)(bits & 0xFF);
                    bits >>= 8;
                    left--;
                } while (b >= 243);
                int k = Math.Min(5, codes.Length - i);
                table.Slice((int)b * 5, k).CopyTo(codes.Slice(i, k));
            }
        });
        Span<sbyte> all = buffer.AsSpan(0, rows * cols);
        if (format is not null)
        {
            format.Pack(all, rows, cols, new ReadOnlySpan<float>(in scale), dst);
            return;
        }
        Span<Half> h = MemoryMarshal.Cast<byte, Half>(dst);
        Half s = (Half)scale, zero = (Half)0f, minus = -s;
        for (int i = 0; i < all.Length; i++) h[i] = all[i] == 0 ? zero : all[i] > 0 ? s : minus;
    }

    // The generator of stream (stream, row) of a seed: xoshiro256** (fixed, so a seed means the same bits on every
    // runtime, which System.Random does not promise) seeded through SplitMix64 from the three mixed.
    private static Xoshiro256StarStar Stream(ulong seed, ulong stream, ulong row) =>
        new(seed ^ (stream * 0x9E3779B97F4A7C15UL) ^ (row * 0xD1B54A32D192ED03UL));

    // [0, 1) from the top 24 bits
    private static float NextSingle(Xoshiro256StarStar rng) => (rng.NextUInt64() >> 40) * (1f / (1 << 24));

    // Box-Muller in double (Math is correctly rounded enough here; the result is rounded to float)
    private static (float, float) NextGaussianPair(Xoshiro256StarStar rng)
    {
        double u1 = ((rng.NextUInt64() >> 11) + 1) * (1.0 / (1UL << 53)); // (0, 1]
        double u2 = (rng.NextUInt64() >> 11) * (1.0 / (1UL << 53));
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        return ((float)(r * Math.Cos(2 * Math.PI * u2)), (float)(r * Math.Sin(2 * Math.PI * u2)));
    }
}
