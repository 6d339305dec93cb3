using System.Runtime.InteropServices;
using BitNet.Quantization;
using BitNet.Tokenization;

namespace BitNet.Models;

/// <summary>The type the ternary projections take in a GGUF file written by <see cref="GgufModelWriter"/>.</summary>
public enum TernaryFileType
{
    /// <summary>float32 codes × w (llama.cpp converter output).</summary>
    F32,
    /// <summary>fp16 codes × w.</summary>
    F16,
    /// <summary>ggml TQ1_0 (d = w in every nonzero block).</summary>
    TQ1_0,
    /// <summary>ggml TQ2_0 (d = w in every nonzero block).</summary>
    TQ2_0,
    /// <summary>bitnet.cpp I2_S (arch <c>bitnet-b1.58</c>), in the layout of <see cref="GgufModelWriterOptions.I2SLayout"/>.</summary>
    I2_S,
}

/// <summary>Options of <see cref="GgufModelWriter.Write"/>.</summary>
public sealed record GgufModelWriterOptions
{
    /// <summary>The type of the ternary projections (default TQ2_0).</summary>
    public TernaryFileType TernaryType { get; init; } = TernaryFileType.TQ2_0;

    /// <summary>The type of the embedding and of an untied LM head (default F16).</summary>
    public EmbeddingType EmbeddingType { get; init; } = EmbeddingType.F16;

    /// <summary>The I2_S layout (<see cref="PackedFormat.I2SX86"/> or <see cref="PackedFormat.I2SArm"/>); null: the host's.</summary>
    public PackedFormat? I2SLayout { get; init; }

    /// <summary>Whether to write the tokenizer (<c>tokenizer.ggml.*</c>) when the model has one (default true).</summary>
    public bool IncludeTokenizer { get; init; } = true;
}

/// <summary>
/// Writes a <see cref="BitNetModelFile"/> as GGUF: arch <c>bitnet</c> for the TQ types and F16/F32 (llama.cpp's names),
/// <c>bitnet-b1.58</c> for I2_S (as bitnet.cpp writes it); hyper-parameters under <c>&lt;arch&gt;.*</c> including
/// <c>&lt;arch&gt;.hidden_activation</c>, so that readers do not fall back to llama.cpp's SiLU; the tokenizer as
/// <c>tokenizer.ggml.*</c>; F32 norms; the embedding in <see cref="GgufModelWriterOptions.EmbeddingType"/>. The file is
/// written under a temporary name and renamed (<see cref="GgufWriter.Save"/>).
/// </summary>
public static class GgufModelWriter
{
    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/>.</summary>
    /// <exception cref="ArgumentException">An embedding type this cannot write.</exception>
    /// <exception cref="BitNetException">A shape that the ternary type cannot hold (<see cref="Interop.BnStatus.ErrShape"/>).</exception>
    public static void Write(BitNetModelFile model, string path, GgufModelWriterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new GgufModelWriterOptions();
        string arch = ArchitectureOf(options.TernaryType);
        var w = new GgufWriter();
        SetMetadata(w, arch, System.IO.Path.GetFileName(model.Path.TrimEnd('/', '\\')), model.Config,
            options.IncludeTokenizer ? model.Tokenizer : null);

        PackedFormat i2s = options.I2SLayout ?? HostI2SLayout;
        string[] projNames = ProjectionNames;
        string[] normNames = NormNames;

        AddMatrix(w, "token_embd.weight", model.Embedding, options.EmbeddingType);
        for (int l = 0; l < model.Layers.Count; l++)
        {
            LayerWeights layer = model.Layers[l];
            float[][] norms = [layer.InputNorm, layer.PostAttentionNorm, layer.AttentionSubNorm, layer.FfnSubNorm];
            for (int i = 0; i < norms.Length; i++) AddNorm(w, $"blk.{l}.{normNames[i]}.weight", norms[i]);
            for (int i = 0; i < projNames.Length; i++) AddTernary(w, $"blk.{l}.{projNames[i]}.weight", layer.Projections[i], options.TernaryType, i2s);
        }
        AddNorm(w, "output_norm.weight", model.FinalNorm);
        if (model.LmHead is { } head) AddMatrix(w, "output.weight", head, options.EmbeddingType);
        w.Save(path);
    }

    /// <summary>GGUF names of a layer's projections, in <see cref="LayerWeights.Projections"/> order.</summary>
    internal static string[] ProjectionNames => ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];

    /// <summary>GGUF names of a layer's norms: input, post-attention, attention sub-norm, FFN sub-norm.</summary>
    internal static string[] NormNames => ["attn_norm", "ffn_norm", "attn_sub_norm", "ffn_sub_norm"];

    /// <summary>The I2_S layout of this machine.</summary>
    internal static PackedFormat HostI2SLayout => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm
        ? PackedFormat.I2SArm : PackedFormat.I2SX86;

    /// <summary><c>bitnet-b1.58</c> for I2_S (bitnet.cpp's name), <c>bitnet</c> otherwise.</summary>
    internal static string ArchitectureOf(TernaryFileType type) => type == TernaryFileType.I2_S ? "bitnet-b1.58" : "bitnet";

    /// <summary>Sets <c>general.*</c>, the hyper-parameters under <c>&lt;arch&gt;.*</c> and, with a tokenizer, <c>tokenizer.ggml.*</c>.</summary>
    internal static void SetMetadata(GgufWriter w, string arch, string name, ModelConfig c, BpeTokenizer? tokenizer, int? eotId = null)
    {
        w.SetString(GgufKeys.Architecture, arch);
        w.SetString(GgufKeys.Name, name);
        w.SetUInt32(GgufKeys.For(GgufKeys.ContextLength, arch), (uint)c.MaxPositionEmbeddings);
        w.SetUInt32(GgufKeys.For(GgufKeys.EmbeddingLength, arch), (uint)c.HiddenSize);
        w.SetUInt32(GgufKeys.For(GgufKeys.BlockCount, arch), (uint)c.LayerCount);
        w.SetUInt32(GgufKeys.For(GgufKeys.FeedForwardLength, arch), (uint)c.IntermediateSize);
        w.SetUInt32(GgufKeys.For(GgufKeys.HeadCount, arch), (uint)c.HeadCount);
        w.SetUInt32(GgufKeys.For(GgufKeys.HeadCountKv, arch), (uint)c.KeyValueHeadCount);
        w.SetFloat32(GgufKeys.For(GgufKeys.RopeFreqBase, arch), c.RopeTheta);
        w.SetFloat32(GgufKeys.For(GgufKeys.RmsNormEpsilon, arch), c.RmsNormEpsilon);
        w.SetUInt32(GgufKeys.For(GgufKeys.VocabSize, arch), (uint)c.VocabSize);
        w.SetString(GgufKeys.For(GgufKeys.HiddenActivation, arch), c.Activation == FfnActivation.ReluSquared ? "relu2" : "silu");
        if (tokenizer is { } tok)
        {
            var arrays = tok.ToGgufArrays();
            w.SetString(GgufKeys.TokenizerModel, "gpt2");
            w.SetString(GgufKeys.TokenizerPre, arrays.PreTokenizer);
            w.SetStringArray(GgufKeys.Tokens, arrays.Tokens);
            w.SetArray<int>(GgufKeys.TokenTypes, arrays.TokenTypes);
            w.SetStringArray(GgufKeys.Merges, arrays.Merges);
            if ((c.BosTokenId ?? tok.BosId) is int bos) w.SetUInt32(GgufKeys.BosTokenId, (uint)bos);
            if ((c.EosTokenIds.Count > 0 ? c.EosTokenIds[0] : tok.EosId) is int eos) w.SetUInt32(GgufKeys.EosTokenId, (uint)eos);
            if (eotId is int eot) w.SetUInt32(GgufKeys.EotTokenId, (uint)eot);
        }
    }

    private static void AddNorm(GgufWriter w, string name, float[] values) =>
        w.AddTensor(name, GgufTypes.F32, [values.Length], MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    private static void AddMatrix(GgufWriter w, string name, EmbeddingMatrix m, EmbeddingType type)
    {
        long[] dims = [m.Cols, m.Rows];
        if (m.Type == type)
        {
            w.AddTensor(name, EmbeddingTypes.ToGguf(type), dims, m.Bytes.ToArray());
            return;
        }
        float[] x = m.ToSingles();
        byte[] data = new byte[checked((long)m.Rows * EmbeddingTypes.RowBytes(type, m.Cols))];
        switch (type)
        {
            case EmbeddingType.F32:
                MemoryMarshal.AsBytes(x.AsSpan()).CopyTo(data);
                break;
            case EmbeddingType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(data.AsSpan());
                for (int i = 0; i < x.Length; i++) h[i] = (Half)x[i];
                break;
            case EmbeddingType.BF16:
                var b = MemoryMarshal.Cast<byte, ushort>(data.AsSpan());
                for (int i = 0; i < x.Length; i++) b[i] = FloatConvert.SingleToBF16(x[i]);
                break;
            case EmbeddingType.Q8_0:
                int rowBytes = EmbeddingTypes.RowBytes(type, m.Cols);
                for (int r = 0; r < m.Rows; r++)
                    EmbeddingTypes.QuantizeQ8_0(x.AsSpan(r * m.Cols, m.Cols), data.AsSpan(r * rowBytes, rowBytes));
                break;
            case EmbeddingType.Q6_K:
                EmbeddingTypes.QuantizeQ6_K(x, m.Rows, m.Cols, data);
                break;
            default:
                throw new ArgumentException($"writing embeddings as {type} is not supported (F32, F16, BF16, Q8_0, Q6_K)", nameof(type));
        }
        w.AddTensor(name, EmbeddingTypes.ToGguf(type), dims, data);
    }

    private static void AddTernary(GgufWriter w, string name, TernaryTensor t, TernaryFileType type, PackedFormat i2s)
    {
        long[] dims = [t.Cols, t.Rows];
        switch (type)
        {
            case TernaryFileType.F32 or TernaryFileType.F16:
            {
                sbyte[] codes = t.GetCodes();
                if (type == TernaryFileType.F32)
                {
                    var f = new float[codes.Length];
                    for (int i = 0; i < f.Length; i++) f[i] = codes[i] * t.Scale;
                    w.AddTensor(name, GgufTypes.F32, dims, MemoryMarshal.AsBytes(f.AsSpan()).ToArray());
                }
                else
                {
                    var h = new Half[codes.Length];
                    Half s = (Half)t.Scale;
                    for (int i = 0; i < h.Length; i++) h[i] = codes[i] == 0 ? (Half)0 : codes[i] > 0 ? s : -s;
                    w.AddTensor(name, GgufTypes.F16, dims, MemoryMarshal.AsBytes(h.AsSpan()).ToArray());
                }
                return;
            }
            default:
            {
                (PackedFormat format, GgufType ggufType) = type switch
                {
                    TernaryFileType.TQ1_0 => (PackedFormat.Tq1_0, GgufTypes.TQ1_0),
                    TernaryFileType.TQ2_0 => (PackedFormat.Tq2_0, GgufTypes.TQ2_0),
                    _ => (i2s, GgufTypes.I2_S),
                };
                byte[] data;
                if (t.PackedFormat is { } from && from.IsTernary)
                {
                    data = new byte[format.PackedSize(t.Rows, t.Cols)];
                    from.Convert(t.PackedBytes, t.Rows, t.Cols, format, t.Scale, data);
                }
                else
                {
                    data = new byte[format.PackedSize(t.Rows, t.Cols)];
                    format.Pack(t.GetCodes(), t.Rows, t.Cols, [t.Scale], data);
                }
                w.AddTensor(name, ggufType, dims, data);
                return;
            }
        }
    }
}
