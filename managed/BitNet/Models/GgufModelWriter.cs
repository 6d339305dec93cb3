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
    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/>, one tensor at a time: each is read from the
    /// source's mapping, converted and written before the next (memory stays at about one tensor).</summary>
    /// <param name="model">The source model.</param>
    /// <param name="path">The GGUF file.</param>
    /// <param name="options">Types (default TQ2_0 projections, F16 embedding).</param>
    /// <param name="progress">Receives the fraction of tensor bytes written, after each tensor.</param>
    /// <exception cref="ArgumentException">An embedding type this cannot write.</exception>
    /// <exception cref="BitNetException">A shape that the ternary type cannot hold (<see cref="Interop.BnStatus.ErrShape"/>).</exception>
    /// <exception cref="ModelFormatException">A source tensor whose data is not valid (TQ blocks with different d, say).</exception>
    public static void Write(BitNetModelFile model, string path, GgufModelWriterOptions? options = null, IProgress<double>? progress = null)
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

        // every tensor as a source that fills its bytes when Save reaches it, counted for the progress fraction
        long total = 0, done = 0;
        void Add(string name, GgufType type, long[] dims, GgufTensorSource fill)
        {
            long size = type.ByteSize(dims);
            total += size;
            w.AddTensor(name, type, dims, dst =>
            {
                fill(dst);
                done += size;
                progress?.Report((double)done / total);
            });
        }

        AddMatrix(Add, "token_embd.weight", model.Embedding, options.EmbeddingType);
        for (int l = 0; l < model.Layers.Count; l++)
        {
            LayerWeights layer = model.Layers[l];
            Func<float[]>[] norms = [() => layer.InputNorm, () => layer.PostAttentionNorm, () => layer.AttentionSubNorm, () => layer.FfnSubNorm];
            int[] lengths = [model.Config.HiddenSize, model.Config.HiddenSize, model.Config.HiddenSize, model.Config.IntermediateSize];
            for (int i = 0; i < norms.Length; i++) AddNorm(Add, $"blk.{l}.{normNames[i]}.weight", lengths[i], norms[i]);
            for (int i = 0; i < projNames.Length; i++) AddTernary(Add, $"blk.{l}.{projNames[i]}.weight", layer.Projections[i], options.TernaryType, i2s);
        }
        AddNorm(Add, "output_norm.weight", model.Config.HiddenSize, () => model.FinalNorm);
        if (model.LmHead is { } head) AddMatrix(Add, "output.weight", head, options.EmbeddingType);
        w.Save(path);
    }

    private delegate void TensorAdder(string name, GgufType type, long[] dims, GgufTensorSource fill);

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
        if (tokenizer is { IsSentencePiece: true } spm)
        {
            var arrays = spm.ToGgufSentencePiece();
            w.SetString(GgufKeys.TokenizerModel, "llama");
            var (tokens, types) = PadToVocabulary(arrays.Tokens, arrays.TokenTypes, c.VocabSize);
            float[] scores = arrays.Scores;
            if (scores.Length < tokens.Length)
            {
                Array.Resize(ref scores, tokens.Length);
                scores.AsSpan(arrays.Scores.Length).Fill(-1000f); // as convert_hf_to_gguf.py scores its padding
            }
            w.SetStringArray(GgufKeys.Tokens, tokens);
            w.SetArray<float>(GgufKeys.Scores, scores);
            w.SetArray<int>(GgufKeys.TokenTypes, types);
            w.SetBoolean(GgufKeys.AddSpacePrefix, arrays.AddSpacePrefix);
            if (arrays.UnknownId is int unk) w.SetUInt32(GgufKeys.UnknownTokenId, (uint)unk);
        }
        else if (tokenizer is { } bpe)
        {
            var arrays = bpe.ToGgufArrays();
            w.SetString(GgufKeys.TokenizerModel, "gpt2");
            // llama.cpp (llama-vocab.cpp) knows the GPT-2 split as "gpt-2" and refuses "gpt2" as an unknown
            // pre-tokenizer; our reader takes both
            w.SetString(GgufKeys.TokenizerPre, arrays.PreTokenizer == "gpt2" ? "gpt-2" : arrays.PreTokenizer);
            // llama.cpp takes n_vocab from the token list and requires token_embd to have exactly that many rows:
            // pad a tokenizer smaller than the model's vocabulary with "[PAD<id>]" tokens of type UNUSED (5), as
            // llama.cpp's convert_hf_to_gguf.py does
            var (tokens, types) = PadToVocabulary(arrays.Tokens, arrays.TokenTypes, c.VocabSize);
            w.SetStringArray(GgufKeys.Tokens, tokens);
            w.SetArray<int>(GgufKeys.TokenTypes, types);
            w.SetStringArray(GgufKeys.Merges, arrays.Merges);
        }
        if (tokenizer is { } tok)
        {
            if ((c.BosTokenId ?? tok.BosId) is int bos) w.SetUInt32(GgufKeys.BosTokenId, (uint)bos);
            if ((c.EosTokenIds.Count > 0 ? c.EosTokenIds[0] : tok.EosId) is int eos) w.SetUInt32(GgufKeys.EosTokenId, (uint)eos);
            if (eotId is int eot) w.SetUInt32(GgufKeys.EotTokenId, (uint)eot);
            if (tok.ChatTemplateSource is { Length: > 0 } chat) w.SetString(GgufKeys.ChatTemplate, chat);
        }
    }

    /// <summary>The token list grown to <paramref name="vocabSize"/> entries with "[PAD&lt;id&gt;]" / UNUSED (5);
    /// unchanged when it already has that many or more.</summary>
    internal static (string[] Tokens, int[] Types) PadToVocabulary(string[] tokens, int[] types, int vocabSize)
    {
        if (tokens.Length >= vocabSize) return (tokens, types);
        var t = new string[vocabSize];
        var ty = new int[vocabSize];
        tokens.CopyTo(t, 0);
        types.CopyTo(ty, 0);
        for (int id = tokens.Length; id < vocabSize; id++)
        {
            t[id] = $"[PAD{id}]";
            ty[id] = 5;
        }
        return (t, ty);
    }

    private static void AddNorm(TensorAdder add, string name, int length, Func<float[]> values) =>
        add(name, GgufTypes.F32, [length], dst => MemoryMarshal.AsBytes(values().AsSpan()).CopyTo(dst));

    private static void AddMatrix(TensorAdder add, string name, EmbeddingMatrix m, EmbeddingType type)
    {
        if (type is not (EmbeddingType.F32 or EmbeddingType.F16 or EmbeddingType.BF16 or EmbeddingType.Q8_0 or EmbeddingType.Q6_K or EmbeddingType.Q4_K))
            throw new ArgumentException($"writing embeddings as {type} is not supported (F32, F16, BF16, Q8_0, Q6_K)", nameof(type));
        // no Q4_K quantizer here: Q4_K is written only by copying a Q4_K source's bytes
        if (type == EmbeddingType.Q4_K && m.Type != EmbeddingType.Q4_K)
            throw new ArgumentException($"writing embeddings as Q4_K is supported only from a Q4_K source (this one is {m.Type}): there is no Q4_K quantizer", nameof(type));
        long[] dims = [m.Cols, m.Rows];
        add(name, EmbeddingTypes.ToGguf(type), dims, dst =>
        {
            if (m.Type == type) m.Bytes.CopyTo(dst);
            else Requantize(m, type, dst);
        });
    }

    private static void Requantize(EmbeddingMatrix m, EmbeddingType type, Span<byte> data)
    {
        float[] x = m.ToSingles();
        switch (type)
        {
            case EmbeddingType.F32:
                MemoryMarshal.AsBytes(x.AsSpan()).CopyTo(data);
                break;
            case EmbeddingType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(data);
                for (int i = 0; i < x.Length; i++) h[i] = (Half)x[i];
                break;
            case EmbeddingType.BF16:
                var b = MemoryMarshal.Cast<byte, ushort>(data);
                for (int i = 0; i < x.Length; i++) b[i] = FloatConvert.SingleToBF16(x[i]);
                break;
            case EmbeddingType.Q8_0:
                int rowBytes = EmbeddingTypes.RowBytes(type, m.Cols);
                for (int r = 0; r < m.Rows; r++)
                    EmbeddingTypes.QuantizeQ8_0(x.AsSpan(r * m.Cols, m.Cols), data.Slice(r * rowBytes, rowBytes));
                break;
            case EmbeddingType.Q6_K:
                EmbeddingTypes.QuantizeQ6_K(x, m.Rows, m.Cols, data);
                break;
        }
    }

    private static void AddTernary(TensorAdder add, string name, TernaryTensor t, TernaryFileType type, PackedFormat i2s)
    {
        long[] dims = [t.Cols, t.Rows];
        switch (type)
        {
            case TernaryFileType.F32:
                add(name, GgufTypes.F32, dims, dst =>
                {
                    sbyte[] codes = t.GetCodes(); // before Scale: one pass over the stored bytes settles both
                    float s = t.Scale;
                    Span<float> f = MemoryMarshal.Cast<byte, float>(dst);
                    for (int i = 0; i < codes.Length; i++) f[i] = codes[i] * s;
                });
                return;
            case TernaryFileType.F16:
                add(name, GgufTypes.F16, dims, dst =>
                {
                    sbyte[] codes = t.GetCodes();
                    Half s = (Half)t.Scale;
                    Span<Half> h = MemoryMarshal.Cast<byte, Half>(dst);
                    for (int i = 0; i < codes.Length; i++) h[i] = codes[i] == 0 ? (Half)0 : codes[i] > 0 ? s : -s;
                });
                return;
            default:
                (PackedFormat format, GgufType ggufType) = type switch
                {
                    TernaryFileType.TQ1_0 => (PackedFormat.Tq1_0, GgufTypes.TQ1_0),
                    TernaryFileType.TQ2_0 => (PackedFormat.Tq2_0, GgufTypes.TQ2_0),
                    _ => (i2s, GgufTypes.I2_S),
                };
                add(name, ggufType, dims, dst => t.ConvertTo(format, dst));
                return;
        }
    }
}
