using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using BitNet.Quantization;
using BitNet.Tokenization;

namespace BitNet.Models;

/// <summary>
/// A BitNet b1.58 model read from any layout it comes in (CLI.md "Models"): a Hugging Face folder (config.json +
/// model.safetensors, or a sharded model.safetensors.index.json; tokenizer.json optional) with master weights
/// (F32/BF16/F16, ternarized at load as HF does online) or packed weights (U8 [out/4, in] + weight_scale), or a GGUF
/// file (TQ1_0, TQ2_0, I2_S, or F32/F16/BF16 ternary×s as llama.cpp's converter writes). Every layout gives the same
/// <see cref="TernaryTensor"/> codes and scales for the same model. Files stay memory-mapped until Dispose; packed bytes,
/// embeddings and the listing are views of them.
/// <code>using var model = BitNetModelFile.Open("bitnet-b1.58-2B-4T/");</code>
/// </summary>
public sealed class BitNetModelFile : IDisposable
{
    private readonly List<IDisposable> _files = new();

    private BitNetModelFile(string path, ModelFileFormat format)
    {
        Path = path;
        Format = format;
    }

    /// <summary>The folder or file the model was read from.</summary>
    public string Path { get; }

    /// <summary>The layout it was read from.</summary>
    public ModelFileFormat Format { get; }

    /// <summary>The hyper-parameters (with any activation override applied).</summary>
    public ModelConfig Config { get; private set; } = null!;

    /// <summary>The tokenizer (tokenizer.json beside the weights, or the GGUF <c>tokenizer.ggml.*</c> arrays), or null when
    /// there is none (or <see cref="ModelLoadOptions.LoadTokenizer"/> is false).</summary>
    public BpeTokenizer? Tokenizer { get; private set; }

    /// <summary>The token embedding [vocab, hidden], also the LM head when <see cref="ModelConfig.TieWordEmbeddings"/>.</summary>
    public EmbeddingMatrix Embedding { get; private set; } = null!;

    /// <summary>The separate LM head [vocab, hidden], or null when it is tied to <see cref="Embedding"/>.</summary>
    public EmbeddingMatrix? LmHead { get; private set; }

    /// <summary>The matrix the logits come from: <see cref="LmHead"/>, or <see cref="Embedding"/> when tied.</summary>
    public EmbeddingMatrix OutputWeights => LmHead ?? Embedding;

    /// <summary>The final RMSNorm weight (model.norm / output_norm) [hidden], read from the file on first use.</summary>
    public float[] FinalNorm => _finalNorm.Value;

    private Lazy<float[]> _finalNorm = new(() => []);

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<LayerWeights> Layers { get; private set; } = [];

    /// <summary>Every tensor of the file(s) as stored, in file order.</summary>
    public IReadOnlyList<StoredTensor> Tensors { get; private set; } = [];

    /// <summary>The file's own metadata as text: GGUF keys (arrays summarised), or the safetensors <c>__metadata__</c>.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Metadata { get; private set; } = [];

    /// <summary>The layout its I2_S projections were read in (<see cref="PackedFormat.I2SX86"/> or
    /// <see cref="PackedFormat.I2SArm"/>), or null when it has none. GGUF files do not record it (bitnet.cpp writes its
    /// build's layout): <see cref="ModelLoadOptions.I2SLayout"/> when given, else the host's.</summary>
    public PackedFormat? I2SLayout { get; private set; }

    /// <summary>Whether <see cref="I2SLayout"/> is the host's because the caller did not give one: a guess that
    /// <c>BitNet.Inference.BitNetModel.Load</c> settles by running the model in both layouts.</summary>
    public bool I2SLayoutAssumed { get; private set; }

    /// <summary>Opens a model folder or GGUF file.</summary>
    /// <param name="path">A folder with config.json, or a .gguf file.</param>
    /// <param name="options">Overrides (default <see cref="ModelLoadOptions.Default"/>).</param>
    /// <remarks>Only headers and metadata are read: tensor data stays in the mapping until it is used (a projection's
    /// scale or codes, a norm), so opening a model to list it costs no more memory than its metadata. Problems in the
    /// data itself (TQ blocks with different d, a non-finite I2_S scale) surface there, as
    /// <see cref="ModelFormatException"/> too.</remarks>
    /// <exception cref="FileNotFoundException">Nothing at <paramref name="path"/>.</exception>
    /// <exception cref="ModelFormatException">The model is incomplete or inconsistent: missing config.json, index shard or
    /// tensor, a shape that disagrees with the config, a tensor type that cannot be a projection, an embedding or a
    /// norm.</exception>
    public static BitNetModelFile Open(string path, ModelLoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= ModelLoadOptions.Default;
        BitNetModelFile model;
        if (Directory.Exists(path)) model = new BitNetModelFile(path, ModelFileFormat.HuggingFace);
        else if (File.Exists(path)) model = new BitNetModelFile(path, ModelFileFormat.Gguf);
        else throw new FileNotFoundException($"no such model file or folder: {path}", path);
        try
        {
            if (model.Format == ModelFileFormat.HuggingFace) model.LoadHuggingFace(options);
            else model.LoadGguf(options);
            if (options.Activation is { } act) model.Config = model.Config.WithActivation(act);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Releases the resident pages of the mapped files outside <paramref name="kept"/>, the (address,
    /// length) ranges a loaded model reads in place (<see cref="MappedPages"/>).</summary>
    internal void ReleasePagesOutside(IReadOnlyList<(nint Address, long Length)> kept)
    {
        foreach (var f in _files)
        {
            if (f is GgufFile g) g.ReleasePagesOutside(kept);
            else if (f is SafetensorsFile s) s.ReleasePagesOutside(kept);
        }
    }

    /// <summary>Unmaps the files; tensors' bytes are no longer readable afterwards.</summary>
    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _files.Clear();
    }

    // --- shared shape rules ----------------------------------------------------------------------------------

    private static readonly (string Hf, string Gguf)[] s_projections =
    [
        ("self_attn.q_proj", "attn_q"), ("self_attn.k_proj", "attn_k"), ("self_attn.v_proj", "attn_v"),
        ("self_attn.o_proj", "attn_output"), ("mlp.gate_proj", "ffn_gate"), ("mlp.up_proj", "ffn_up"), ("mlp.down_proj", "ffn_down"),
    ];

    private static readonly (string Hf, string Gguf)[] s_norms =
    [
        ("input_layernorm", "attn_norm"), ("post_attention_layernorm", "ffn_norm"),
        ("self_attn.attn_sub_norm", "attn_sub_norm"), ("mlp.ffn_sub_norm", "ffn_sub_norm"),
    ];

    // [out, in] of projection i (s_projections order)
    private static (int Rows, int Cols) ProjectionShape(ModelConfig c, int i) => i switch
    {
        0 or 3 => (c.HiddenSize, c.HiddenSize),
        1 or 2 => (c.KeyValueSize, c.HiddenSize),
        4 or 5 => (c.IntermediateSize, c.HiddenSize),
        _ => (c.HiddenSize, c.IntermediateSize),
    };

    private static int NormLength(ModelConfig c, int i) => i == 3 ? c.IntermediateSize : c.HiddenSize;

    private static LayerWeights BuildLayer(TernaryTensor[] p, Func<float[]>[] n) => new(p, n);

    private static string Shape(IEnumerable<long> s) => "[" + string.Join(", ", s) + "]";

    // master weights: HF online semantics, s = 1/max(mean|W|, 1e-5), codes = clamp(round(W*s)), w = 1/s
    private static (sbyte[] Codes, float Scale) QuantizeMaster(ReadOnlySpan<float> w, int rows, int cols)
    {
        using TernaryWeights t = TernaryQuantizer.Quantize(w, rows, cols);
        return (t.Codes.Span.ToArray(), 1f / t.Scales[0]);
    }

    // --- Hugging Face folders ---------------------------------------------------------------------------------

    private void LoadHuggingFace(ModelLoadOptions options)
    {
        string configPath = System.IO.Path.Combine(Path, "config.json");
        if (!File.Exists(configPath)) throw new ModelFormatException(Path, "missing config.json: not a Hugging Face model folder");
        ModelConfig config = ModelConfig.FromJsonFile(configPath);
        Config = config;

        var lookup = OpenSafetensors();
        (SafetensorsFile File, TensorInfo Info) Require(string name) =>
            lookup.TryGetValue(name, out var hit) ? hit : throw new ModelFormatException(Path, $"missing tensor '{name}'");
        StoredBytes Bytes((SafetensorsFile File, TensorInfo Info) t) => () => t.File.GetBytes(t.Info);

        // checked now, read on first use
        Func<float[]> Norm(string name, int length)
        {
            var t = Require(name);
            if (t.Info.DType is not (DType.F32 or DType.F16 or DType.BF16))
                throw new ModelFormatException(t.File.Path, $"tensor '{name}': norm weights of type {t.Info.DType} are not supported (F32, F16, BF16)");
            if (t.Info.Shape is not [long n] || n != length)
                throw new ModelFormatException(t.File.Path, $"tensor '{name}': shape {t.Info.ShapeText} disagrees with the config (expected [{length}])");
            return () =>
            {
                var v = new float[length];
                FloatConvert.ToSingle(t.Info.DType, t.File.GetBytes(t.Info), v);
                return v;
            };
        }

        EmbeddingMatrix Matrix(string name)
        {
            var t = Require(name);
            EmbeddingType type = EmbeddingTypes.FromDType(t.Info.DType)
                ?? throw new ModelFormatException(t.File.Path, $"tensor '{name}': type {t.Info.DType} is not supported for embeddings (F32, F16, BF16)");
            if (t.Info.Shape is not [long v, long h] || v != config.VocabSize || h != config.HiddenSize)
                throw new ModelFormatException(t.File.Path, $"tensor '{name}': shape {t.Info.ShapeText} disagrees with the config (expected [{config.VocabSize}, {config.HiddenSize}])");
            return new EmbeddingMatrix(name, config.VocabSize, config.HiddenSize, type, Bytes(t));
        }

        TernaryTensor Projection(string name, int rows, int cols)
        {
            var t = Require(name);
            string file = t.File.Path;
            if (t.Info.DType == DType.U8)
            {
                if (t.Info.Shape is not [long r4, long c] || r4 * 4 != rows || c != cols)
                    throw new ModelFormatException(file, $"tensor '{name}': packed shape {t.Info.ShapeText} disagrees with the config (expected [{rows / 4}, {cols}] for a [{rows}, {cols}] weight)");
                QuantizationConfig q = config.Quantization
                    ?? throw new ModelFormatException(configPath, $"tensor '{name}' is packed (U8) but config.json has no quantization_config saying how its weight_scale applies");
                string scaleName = name[..^"weight".Length] + "weight_scale";
                var s = Require(scaleName);
                if (s.Info.ElementCount != 1 || s.Info.DType is not (DType.F32 or DType.F16 or DType.BF16))
                    throw new ModelFormatException(s.File.Path, $"tensor '{scaleName}': {s.Info.DType} {s.Info.ShapeText} is not one float scale");
                float ReadScale()
                {
                    Span<float> one = stackalloc float[1];
                    FloatConvert.ToSingle(s.Info.DType, s.File.GetBytes(s.Info), one);
                    float ws = one[0];
                    if (!float.IsFinite(ws) || ws <= 0)
                        throw new ModelFormatException(s.File.Path, $"tensor '{scaleName}' = {ws} is not a positive finite scale");
                    // autobitlinear multiplies (weight_scale = mean|W|); bitlinear divides (weight_scale = 1/mean|W|)
                    return q.LinearClass == LinearClass.AutoBitLinear ? ws : 1f / ws;
                }
                return new TernaryTensor(file, name, rows, cols, "U8 (HF_2B4T)", PackedFormat.Hf2B4T, Bytes(t), ReadScale);
            }
            if (t.Info.DType is DType.F32 or DType.F16 or DType.BF16)
            {
                if (t.Info.Shape is not [long r, long c] || r != rows || c != cols)
                    throw new ModelFormatException(file, $"tensor '{name}': shape {t.Info.ShapeText} disagrees with the config (expected [{rows}, {cols}])");
                return new TernaryTensor(file, name, rows, cols, t.Info.DType.ToString(), () =>
                {
                    var w = new float[checked(rows * cols)];
                    FloatConvert.ToSingle(t.Info.DType, t.File.GetBytes(t.Info), w);
                    return QuantizeMaster(w, rows, cols);
                });
            }
            throw new ModelFormatException(file, $"tensor '{name}': type {t.Info.DType} is not a projection weight type (U8 packed, F32, F16, BF16)");
        }

        var layers = new LayerWeights[config.LayerCount];
        for (int l = 0; l < layers.Length; l++)
        {
            var p = new TernaryTensor[s_projections.Length];
            for (int i = 0; i < p.Length; i++)
            {
                var (rows, cols) = ProjectionShape(config, i);
                p[i] = Projection($"model.layers.{l}.{s_projections[i].Hf}.weight", rows, cols);
            }
            var n = new Func<float[]>[s_norms.Length];
            for (int i = 0; i < n.Length; i++) n[i] = Norm($"model.layers.{l}.{s_norms[i].Hf}.weight", NormLength(config, i));
            layers[l] = BuildLayer(p, n);
        }
        Layers = layers;
        _finalNorm = new Lazy<float[]>(Norm("model.norm.weight", config.HiddenSize));
        Embedding = Matrix("model.embed_tokens.weight");
        if (!config.TieWordEmbeddings) LmHead = Matrix("lm_head.weight");

        Tensors = lookup.Values.OrderBy(t => t.File.Path, StringComparer.Ordinal).ThenBy(t => t.Info.FileOffset)
            .Select(t => new StoredTensor(t.Info.Name, DTypes.SafetensorsName(t.Info.DType), t.Info.Shape, t.Info.ByteLength)).ToArray();
        Metadata = _files.OfType<SafetensorsFile>().SelectMany(f => f.Metadata).ToArray();

        string tokenizerPath = System.IO.Path.Combine(Path, "tokenizer.json");
        if (options.LoadTokenizer && File.Exists(tokenizerPath))
        {
            Tokenizer = BpeTokenizer.FromFile(tokenizerPath, config.BosTokenId, config.EosTokenIds.Count > 0 ? config.EosTokenIds[0] : null);
            Tokenizer.ChatTemplateSource = TokenizerConfig.ReadChatTemplate(Path);
        }
    }

    // name -> (shard, info), from model.safetensors or model.safetensors.index.json
    private Dictionary<string, (SafetensorsFile File, TensorInfo Info)> OpenSafetensors()
    {
        var lookup = new Dictionary<string, (SafetensorsFile, TensorInfo)>(StringComparer.Ordinal);
        string single = System.IO.Path.Combine(Path, "model.safetensors");
        string index = System.IO.Path.Combine(Path, "model.safetensors.index.json");
        if (File.Exists(single))
        {
            var f = SafetensorsFile.Open(single);
            _files.Add(f);
            foreach (var t in f.Tensors) lookup[t.Name] = (f, t);
            return lookup;
        }
        if (!File.Exists(index))
            throw new ModelFormatException(Path, "missing model.safetensors (and no model.safetensors.index.json)");

        var shards = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(index));
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var map)
                || map.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(index, "no 'weight_map' object");
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw new ModelFormatException(index, $"weight_map entry '{entry.Name}' is not a file name");
                string shard = entry.Value.GetString()!;
                if (shard.Length == 0 || shard.Contains('/') || shard.Contains('\\') || shard is "." or "..")
                    throw new ModelFormatException(index, $"weight_map entry '{entry.Name}': '{shard}' is not a file name in the folder");
                if (!shards.TryGetValue(shard, out var f))
                {
                    string shardPath = System.IO.Path.Combine(Path, shard);
                    if (!File.Exists(shardPath))
                        throw new ModelFormatException(index, $"shard '{shard}' (holding tensor '{entry.Name}') does not exist");
                    f = SafetensorsFile.Open(shardPath);
                    _files.Add(f);
                    shards.Add(shard, f);
                }
                var info = f.Find(entry.Name)
                    ?? throw new ModelFormatException(f.Path, $"missing tensor '{entry.Name}' (model.safetensors.index.json puts it in this shard)");
                lookup[entry.Name] = (f, info);
            }
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(index, $"not valid JSON: {e.Message}", e);
        }
        return lookup;
    }

    // --- GGUF -------------------------------------------------------------------------------------------------

    private void LoadGguf(ModelLoadOptions options)
    {
        var file = GgufFile.Open(Path);
        _files.Add(file);
        ModelConfig config = ModelConfig.FromGguf(file);
        Config = config;
        PackedFormat i2s = options.I2SLayout ?? (RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm
            ? PackedFormat.I2SArm : PackedFormat.I2SX86);
        if (i2s != PackedFormat.I2SX86 && i2s != PackedFormat.I2SArm)
            throw new ArgumentException($"I2SLayout must be I2_S_X86 or I2_S_ARM, not {i2s.Name}", nameof(options));

        bool hasI2S = false;
        GgufTensorInfo Require(string name) =>
            file.FindTensor(name) ?? throw new ModelFormatException(Path, $"missing tensor '{name}'");
        StoredBytes Bytes(GgufTensorInfo t) => () => file.GetTensorBytes(t);
        static DType? FloatType(GgufType t) =>
            t == GgufTypes.F32 ? DType.F32 : t == GgufTypes.F16 ? DType.F16 : t == GgufTypes.BF16 ? DType.BF16 : null;

        // checked now, read on first use
        Func<float[]> Norm(string name, int length)
        {
            var t = Require(name);
            DType type = FloatType(t.Type)
                ?? throw new ModelFormatException(Path, $"tensor '{name}': norm weights of type {t.Type.Name} are not supported (F32, F16, BF16)");
            if (t.Dimensions is not [long n] || n != length)
                throw new ModelFormatException(Path, $"tensor '{name}': dimensions {Shape(t.Dimensions)} disagree with the config (expected [{length}])");
            return () =>
            {
                var v = new float[length];
                FloatConvert.ToSingle(type, file.GetTensorBytes(t), v);
                return v;
            };
        }

        EmbeddingMatrix Matrix(string name)
        {
            var t = Require(name);
            EmbeddingType type = EmbeddingTypes.FromGguf(t.Type)
                ?? throw new ModelFormatException(Path, $"tensor '{name}': type {t.Type.Name} is not supported for embeddings (F32, F16, BF16, Q8_0, Q6_K, Q4_K)");
            if (t.Dimensions is not [long h, long v] || v != config.VocabSize || h != config.HiddenSize)
                throw new ModelFormatException(Path, $"tensor '{name}': dimensions {Shape(t.Dimensions)} disagree with the config (expected [{config.HiddenSize}, {config.VocabSize}] in GGUF order)");
            return new EmbeddingMatrix(name, config.VocabSize, config.HiddenSize, type, Bytes(t));
        }

        TernaryTensor Projection(string name, int rows, int cols)
        {
            var t = Require(name);
            if (t.Dimensions is not [long c, long r] || r != rows || c != cols)
                throw new ModelFormatException(Path, $"tensor '{name}': dimensions {Shape(t.Dimensions)} disagree with the config (expected [{cols}, {rows}] in GGUF order, a [{rows}, {cols}] weight)");
            // nothing is read here: TQ block scales are checked, the I2_S scale read and floats ternarized on first use
            if (t.Type == GgufTypes.TQ1_0 || t.Type == GgufTypes.TQ2_0)
            {
                var format = t.Type == GgufTypes.TQ1_0 ? PackedFormat.Tq1_0 : PackedFormat.Tq2_0;
                return new TernaryTensor(Path, name, rows, cols, t.Type.Name, format, Bytes(t), null);
            }
            if (t.Type == GgufTypes.I2_S)
            {
                hasI2S = true;
                return new TernaryTensor(Path, name, rows, cols, i2s.Name, i2s, Bytes(t), () =>
                {
                    float scale = TernaryTensor.ReadI2SScale(file.GetTensorBytes(t), rows, cols);
                    if (!float.IsFinite(scale) || scale < 0)
                        throw new ModelFormatException(Path, $"tensor '{name}': I2_S scale {scale} is not a finite non-negative number");
                    return scale;
                });
            }
            if (FloatType(t.Type) is { } ft)
            {
                string typeName = t.Type.Name;
                return new TernaryTensor(Path, name, rows, cols, typeName, () =>
                {
                    var w = new float[checked(rows * cols)];
                    FloatConvert.ToSingle(ft, file.GetTensorBytes(t), w);
                    return TernaryTimesScale(w) ?? QuantizeMaster(w, rows, cols);
                });
            }
            throw new ModelFormatException(Path, $"tensor '{name}': type {t.Type.Name} is not a ternary projection type (TQ1_0, TQ2_0, I2_S, F32, F16, BF16)");
        }

        var layers = new LayerWeights[config.LayerCount];
        for (int l = 0; l < layers.Length; l++)
        {
            var p = new TernaryTensor[s_projections.Length];
            for (int i = 0; i < p.Length; i++)
            {
                var (rows, cols) = ProjectionShape(config, i);
                p[i] = Projection($"blk.{l}.{s_projections[i].Gguf}.weight", rows, cols);
            }
            var n = new Func<float[]>[s_norms.Length];
            for (int i = 0; i < n.Length; i++) n[i] = Norm($"blk.{l}.{s_norms[i].Gguf}.weight", NormLength(config, i));
            layers[l] = BuildLayer(p, n);
        }
        Layers = layers;
        _finalNorm = new Lazy<float[]>(Norm("output_norm.weight", config.HiddenSize));
        I2SLayout = hasI2S ? i2s : null;
        I2SLayoutAssumed = hasI2S && options.I2SLayout is null;
        Embedding = Matrix("token_embd.weight");
        if (!config.TieWordEmbeddings) LmHead = Matrix("output.weight");

        Tensors = file.Tensors.Select(t => new StoredTensor(t.Name, t.Type.Name, t.Shape, t.ByteLength)).ToArray();
        Metadata = file.Keys.Select(k => new KeyValuePair<string, string>(k, Describe(file.Metadata[k]))).ToArray();

        if (options.LoadTokenizer) Tokenizer = ReadGgufTokenizer(file);
    }

    // the tokenizer.ggml.* arrays of a byte-level BPE ("gpt2") or SentencePiece ("llama") tokenizer, with the
    // tokenizer.chat_template; null when the file has none
    private static BpeTokenizer? ReadGgufTokenizer(GgufFile file)
    {
        if (!file.TryGetStringArray(GgufKeys.Tokens, out var tokens)) return null;
        string model = file.TryGetString(GgufKeys.TokenizerModel, out var m) ? m : "gpt2";
        int[]? types = file.TryGetArray<int>(GgufKeys.TokenTypes, out var tt) ? tt.ToArray() : null;
        int? bos = file.TryGetUInt32(GgufKeys.BosTokenId, out uint b) ? (int)b : null;
        int? eos = file.TryGetUInt32(GgufKeys.EosTokenId, out uint e) ? (int)e : null;
        BpeTokenizer tokenizer;
        if (model == "llama")
        {
            if (!file.TryGetArray<float>(GgufKeys.Scores, out var scores))
                throw new ModelFormatException(file.Path, $"a SentencePiece ('llama') tokenizer needs '{GgufKeys.Scores}'");
            int? unk = file.TryGetUInt32(GgufKeys.UnknownTokenId, out uint u) ? (int)u : null;
            bool prefix = !file.TryGetBoolean(GgufKeys.AddSpacePrefix, out bool asp) || asp;
            tokenizer = BpeTokenizer.FromGgufSentencePiece(tokens, scores.ToArray(), types, bos, eos, unk, prefix, file.Path);
        }
        else if (model == "gpt2")
        {
            IReadOnlyList<string> merges = file.TryGetStringArray(GgufKeys.Merges, out var mg) ? mg : [];
            string? pre = file.TryGetString(GgufKeys.TokenizerPre, out var p) ? p : null;
            tokenizer = BpeTokenizer.FromGguf(tokens, merges, types, bos, eos, pre, file.Path);
        }
        else
            throw new ModelFormatException(file.Path, $"{GgufKeys.TokenizerModel} '{model}' is not a tokenizer this library reads (byte-level BPE 'gpt2', SentencePiece 'llama')");
        if (file.TryGetString(GgufKeys.ChatTemplate, out var template)) tokenizer.ChatTemplateSource = template;
        if (file.TryGetBoolean(GgufKeys.AddBosToken, out bool addBos)) tokenizer.AddsBos = addBos;
        return tokenizer;
    }

    /// <summary>Reads only the tokenizer of a model: a bare tokenizer.json, a model folder's tokenizer.json (with the
    /// bos/eos ids of its config.json when there is one), or a GGUF file's <c>tokenizer.ggml.*</c> arrays. Weights are
    /// not read.</summary>
    /// <exception cref="FileNotFoundException">Nothing at <paramref name="path"/>.</exception>
    /// <exception cref="ModelFormatException">The model has no tokenizer, or one this library cannot read.</exception>
    public static BpeTokenizer OpenTokenizer(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
        {
            string json = System.IO.Path.Combine(path, "tokenizer.json");
            if (!File.Exists(json)) throw new ModelFormatException(path, "no tokenizer.json in this model folder");
            string configPath = System.IO.Path.Combine(path, "config.json");
            ModelConfig? config = File.Exists(configPath) ? ModelConfig.FromJsonFile(configPath) : null;
            var tokenizer = BpeTokenizer.FromFile(json, config?.BosTokenId, config is { EosTokenIds.Count: > 0 } ? config.EosTokenIds[0] : null);
            tokenizer.ChatTemplateSource = TokenizerConfig.ReadChatTemplate(path);
            return tokenizer;
        }
        if (!File.Exists(path)) throw new FileNotFoundException($"no such model, folder or tokenizer.json: {path}", path);
        bool isGguf;
        using (var f = File.OpenRead(path))
        {
            Span<byte> magic = stackalloc byte[4];
            isGguf = f.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual(GgufFile.Magic);
        }
        if (!isGguf) return BpeTokenizer.FromFile(path);
        using var file = GgufFile.Open(path);
        return ReadGgufTokenizer(file) ?? throw new ModelFormatException(path, $"no tokenizer: the file has no '{GgufKeys.Tokens}'");
    }

    // llama.cpp's converter writes BitNet weights as floats that are codes × s: detect that exactly (every value 0 or ±max)
    private static (sbyte[] Codes, float Scale)? TernaryTimesScale(ReadOnlySpan<float> w)
    {
        float s = 0;
        foreach (float v in w) s = MathF.Max(s, MathF.Abs(v));
        if (s == 0 || !float.IsFinite(s)) return null;
        var codes = new sbyte[w.Length];
        for (int i = 0; i < w.Length; i++)
        {
            float v = w[i];
            if (v == 0) continue;
            if (v == s) codes[i] = 1;
            else if (v == -s) codes[i] = -1;
            else return null;
        }
        return (codes, s);
    }

    private static string Describe(GgufValue v)
    {
        if (v.Type != GgufValueType.Array) return v.ToString();
        if (v.Count <= 8 && v.ElementType != GgufValueType.Array)
            return "[" + string.Join(", ", Enumerable.Range(0, (int)v.Count).Select(i => v.GetElement(i).ToString())) + "]";
        return v.Describe();
    }
}
