namespace BitNet.Models;

/// <summary>The FFN activation of a BitNet layer: <c>down(act(gate) * up)</c>.</summary>
public enum FfnActivation
{
    /// <summary><c>silu(gate) * up</c>: what llama.cpp's BitNet graph has hard-coded (wrong for b1.58 models).</summary>
    Silu,
    /// <summary><c>relu(gate)² * up</c>: BitNet b1.58 (HF <c>hidden_act: relu2</c>).</summary>
    ReluSquared,
}

/// <summary>Where <see cref="GgufBitNetMetadata.Activation"/> came from.</summary>
public enum FfnActivationSource
{
    /// <summary>The file's <c>&lt;arch&gt;.hidden_activation</c> key.</summary>
    MetadataKey,
    /// <summary>Inferred from a bitnet.cpp architecture name (<c>bitnet-b1.58</c>, <c>bitnet-25</c>): those are b1.58 models.</summary>
    Architecture,
    /// <summary>Inferred from the exact shape of bitnet-b1.58-2B-4T in an arch-<c>bitnet</c> file.</summary>
    ModelShape,
    /// <summary>Nothing said otherwise: llama.cpp's default for arch <c>bitnet</c> (SiLU). Old 1bitLLM-style files
    /// may rely on it; a b1.58 model converted without the key gets wrong logits this way (BN #588, #602).</summary>
    LlamaCppDefault,
}

/// <summary>
/// The hyper-parameters of a BitNet GGUF file, for the architecture names <c>bitnet</c> (llama.cpp),
/// <c>bitnet-b1.58</c> and <c>bitnet-25</c> (bitnet.cpp), read from <c>&lt;arch&gt;.*</c> keys. Tensor names are
/// in <see cref="GgufTensorNames"/>.
/// </summary>
public sealed record GgufBitNetMetadata
{
    /// <summary>The architecture names this reads.</summary>
    public static IReadOnlyList<string> Architectures { get; } = ["bitnet", "bitnet-b1.58", "bitnet-25"];

    /// <summary><c>general.architecture</c>.</summary>
    public required string Architecture { get; init; }
    /// <summary>Training context length.</summary>
    public required int ContextLength { get; init; }
    /// <summary>Hidden size.</summary>
    public required int EmbeddingLength { get; init; }
    /// <summary>Number of layers.</summary>
    public required int BlockCount { get; init; }
    /// <summary>FFN inner size.</summary>
    public required int FeedForwardLength { get; init; }
    /// <summary>Attention heads.</summary>
    public required int HeadCount { get; init; }
    /// <summary>Key/value heads (the head count when the key is absent, as llama.cpp does).</summary>
    public required int HeadCountKv { get; init; }
    /// <summary>RoPE theta (10000 when absent, llama.cpp's default).</summary>
    public required float RopeFreqBase { get; init; }
    /// <summary>RMSNorm epsilon.</summary>
    public required float RmsNormEpsilon { get; init; }
    /// <summary>Vocabulary size: <c>&lt;arch&gt;.vocab_size</c>, else the token list's length, else token_embd's row count.</summary>
    public required int VocabSize { get; init; }
    /// <summary>The FFN activation.</summary>
    public required FfnActivation Activation { get; init; }
    /// <summary>Whether <see cref="Activation"/> was stated or inferred.</summary>
    public required FfnActivationSource ActivationSource { get; init; }

    /// <summary>Per-head size: embedding length / head count.</summary>
    public int HeadDimension => EmbeddingLength / HeadCount;

    /// <summary>Reads the hyper-parameters.</summary>
    /// <exception cref="ModelFormatException">The architecture is not a BitNet one, or a required key is missing,
    /// of the wrong type or inconsistent.</exception>
    public static GgufBitNetMetadata Read(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        string arch = file.Architecture ?? throw new ModelFormatException(file.Path, $"missing metadata key '{GgufKeys.Architecture}'");
        if (!Architectures.Contains(arch))
            throw new ModelFormatException(file.Path, $"architecture '{arch}' is not a BitNet architecture ({string.Join(", ", Architectures)})");

        int Required(string format)
        {
            string key = GgufKeys.For(format, arch);
            uint v = file.GetUInt32(key);
            if (v == 0 || v > int.MaxValue) throw new ModelFormatException(file.Path, $"metadata key '{key}' = {v} is out of range");
            return (int)v;
        }

        int embedding = Required(GgufKeys.EmbeddingLength);
        int heads = Required(GgufKeys.HeadCount);
        int kvHeads = file.ContainsKey(GgufKeys.For(GgufKeys.HeadCountKv, arch)) ? Required(GgufKeys.HeadCountKv) : heads;
        if (embedding % heads != 0)
            throw new ModelFormatException(file.Path, $"embedding length {embedding} is not a multiple of the head count {heads}");
        if (heads % kvHeads != 0)
            throw new ModelFormatException(file.Path, $"head count {heads} is not a multiple of the key/value head count {kvHeads}");

        var meta = new GgufBitNetMetadata
        {
            Architecture = arch,
            ContextLength = Required(GgufKeys.ContextLength),
            EmbeddingLength = embedding,
            BlockCount = Required(GgufKeys.BlockCount),
            FeedForwardLength = Required(GgufKeys.FeedForwardLength),
            HeadCount = heads,
            HeadCountKv = kvHeads,
            RopeFreqBase = file.TryGetFloat32(GgufKeys.For(GgufKeys.RopeFreqBase, arch), out float theta) ? theta : 10000f,
            RmsNormEpsilon = file.GetFloat32(GgufKeys.For(GgufKeys.RmsNormEpsilon, arch)),
            VocabSize = ReadVocabSize(file, arch),
            Activation = FfnActivation.Silu,
            ActivationSource = FfnActivationSource.LlamaCppDefault,
        };
        var (act, source) = ReadActivation(file, meta);
        return meta with { Activation = act, ActivationSource = source };
    }

    /// <summary>Whether the shape is exactly bitnet-b1.58-2B-4T's (BITNET_FACTS.md).</summary>
    public bool Is2B4TShaped =>
        EmbeddingLength == 2560 && BlockCount == 30 && FeedForwardLength == 6912 && HeadCount == 20 && HeadCountKv == 5 && VocabSize == 128256;

    /// <summary>Parses a <c>hidden_activation</c> value ("silu", "relu2", ...); null for names this library cannot run.</summary>
    public static FfnActivation? ParseActivation(string name) => name.Trim().ToLowerInvariant() switch
    {
        "silu" or "swish" => FfnActivation.Silu,
        "relu2" or "relu_squared" or "relu_sqr" or "squared_relu" => FfnActivation.ReluSquared,
        _ => null,
    };

    private static (FfnActivation, FfnActivationSource) ReadActivation(GgufFile file, GgufBitNetMetadata meta)
    {
        string key = GgufKeys.For(GgufKeys.HiddenActivation, meta.Architecture);
        if (file.TryGetString(key, out string? name))
            return (ParseActivation(name) ?? throw new ModelFormatException(file.Path, $"metadata key '{key}' = '{name}' is not an FFN activation this library runs (silu, relu2)"),
                FfnActivationSource.MetadataKey);
        if (meta.Architecture != "bitnet") return (FfnActivation.ReluSquared, FfnActivationSource.Architecture);
        if (meta.Is2B4TShaped) return (FfnActivation.ReluSquared, FfnActivationSource.ModelShape);
        return (FfnActivation.Silu, FfnActivationSource.LlamaCppDefault);
    }

    private static int ReadVocabSize(GgufFile file, string arch)
    {
        string key = GgufKeys.For(GgufKeys.VocabSize, arch);
        if (file.ContainsKey(key))
        {
            uint v = file.GetUInt32(key);
            if (v == 0 || v > int.MaxValue) throw new ModelFormatException(file.Path, $"metadata key '{key}' = {v} is out of range");
            return (int)v;
        }
        if (file.TryGetValue(GgufKeys.Tokens, out var tokens) && tokens.Type == GgufValueType.Array && tokens.Count is > 0 and <= int.MaxValue)
            return (int)tokens.Count;
        if (file.FindTensor("token_embd.weight") is { Dimensions.Length: 2 } embd && embd.Dimensions[1] is > 0 and <= int.MaxValue)
            return (int)embd.Dimensions[1];
        throw new ModelFormatException(file.Path, $"no vocabulary size: neither '{key}', '{GgufKeys.Tokens}' nor a 2-D token_embd.weight");
    }
}
