using System.Text.Json;
using BitNet.Interop;

namespace BitNet.Models;

/// <summary>
/// The hyper-parameters of a BitNet b1.58 model, from a Hugging Face <c>config.json</c> (<see cref="FromJsonFile"/>)
/// or a GGUF file's metadata (<see cref="FromGguf"/>). Shapes of every weight follow from them (see
/// <see cref="BitNetModelFile"/>).
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Hidden size (<c>hidden_size</c>, GGUF <c>embedding_length</c>).</summary>
    public required int HiddenSize { get; init; }
    /// <summary>FFN inner size (<c>intermediate_size</c>).</summary>
    public required int IntermediateSize { get; init; }
    /// <summary>Layers (<c>num_hidden_layers</c>).</summary>
    public required int LayerCount { get; init; }
    /// <summary>Attention heads (<c>num_attention_heads</c>).</summary>
    public required int HeadCount { get; init; }
    /// <summary>Key/value heads (<c>num_key_value_heads</c>; the head count when absent).</summary>
    public required int KeyValueHeadCount { get; init; }
    /// <summary>Vocabulary size (<c>vocab_size</c>).</summary>
    public required int VocabSize { get; init; }
    /// <summary>RMSNorm epsilon (<c>rms_norm_eps</c>).</summary>
    public required float RmsNormEpsilon { get; init; }
    /// <summary>RoPE theta: top-level <c>rope_theta</c> (real checkpoints) or <c>rope_parameters.rope_theta</c> (transformers 5).</summary>
    public required float RopeTheta { get; init; }
    /// <summary>Context length (<c>max_position_embeddings</c>).</summary>
    public required int MaxPositionEmbeddings { get; init; }
    /// <summary>Beginning-of-sequence id, when known.</summary>
    public int? BosTokenId { get; init; }
    /// <summary>End-of-sequence ids (<c>eos_token_id</c> may be a number or an array).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    /// <summary>The FFN activation (<c>hidden_act</c>), after any override.</summary>
    public required FfnActivation Activation { get; init; }
    /// <summary>Where <see cref="Activation"/> came from ("config.json hidden_act", "GGUF MetadataKey", "override", ...).</summary>
    public required string ActivationSource { get; init; }
    /// <summary>Whether the LM head is the embedding matrix (<c>tie_word_embeddings</c>; GGUF: no <c>output.weight</c>).</summary>
    public required bool TieWordEmbeddings { get; init; }
    /// <summary>The <c>quantization_config</c>, or null (master weights quantized online; GGUF files).</summary>
    public QuantizationConfig? Quantization { get; init; }

    /// <summary>Per-head size: hidden / heads.</summary>
    public int HeadDimension => HiddenSize / HeadCount;

    /// <summary>Rows of the k and v projections: key/value heads × head size.</summary>
    public int KeyValueSize => KeyValueHeadCount * HeadDimension;

    /// <summary>The same configuration with the FFN activation overridden by the user.</summary>
    public ModelConfig WithActivation(FfnActivation activation) =>
        this with { Activation = activation, ActivationSource = "override" };

    /// <summary>Reads a HF <c>config.json</c>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="ModelFormatException">Not JSON, a required key missing or of the wrong type, values that disagree.</exception>
    public static ModelConfig FromJsonFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no such file: {path}", path);
        return FromJson(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses the bytes of a HF <c>config.json</c>; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="ModelFormatException">As <see cref="FromJsonFile"/>.</exception>
    public static ModelConfig FromJson(ReadOnlySpan<byte> json, string source = "config.json")
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(source, $"not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ModelFormatException(source, "the top level is not a JSON object");
            ModelFormatException Fail(string problem) => new(source, problem);

            int Int(string key, int? fallback = null)
            {
                if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null)
                    return fallback ?? throw Fail($"missing '{key}'");
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i) || i <= 0)
                    throw Fail($"'{key}' = {v.GetRawText()} is not a positive integer");
                return i;
            }
            static float? Number(JsonElement obj, string key, Func<string, ModelFormatException> fail)
            {
                if (!obj.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
                if (v.ValueKind != JsonValueKind.Number) throw fail($"'{key}' = {v.GetRawText()} is not a number");
                return (float)v.GetDouble();
            }

            int hidden = Int("hidden_size");
            int heads = Int("num_attention_heads");
            int kvHeads = Int("num_key_value_heads", heads);
            if (hidden % heads != 0) throw Fail($"hidden_size {hidden} is not a multiple of num_attention_heads {heads}");
            if (heads % kvHeads != 0) throw Fail($"num_attention_heads {heads} is not a multiple of num_key_value_heads {kvHeads}");

            float? theta = Number(root, "rope_theta", Fail);
            if (theta is null && root.TryGetProperty("rope_parameters", out var rope) && rope.ValueKind == JsonValueKind.Object)
                theta = Number(rope, "rope_theta", p => Fail("rope_parameters." + p));
            if (theta is null) throw Fail("missing 'rope_theta' (top level or under 'rope_parameters')");
            if (!(theta > 0) || float.IsInfinity(theta.Value)) throw Fail($"rope theta {theta} is not a positive number");

            float eps = Number(root, "rms_norm_eps", Fail) ?? throw Fail("missing 'rms_norm_eps'");
            if (!(eps > 0)) throw Fail($"rms_norm_eps {eps} is not positive");

            string actName = root.TryGetProperty("hidden_act", out var act) && act.ValueKind == JsonValueKind.String
                ? act.GetString()! : throw Fail("missing 'hidden_act'");
            FfnActivation activation = GgufBitNetMetadata.ParseActivation(actName)
                ?? throw Fail($"hidden_act '{actName}' is not an FFN activation this library runs (relu2, silu)");

            bool tie = true;
            if (root.TryGetProperty("tie_word_embeddings", out var tieEl))
                tie = tieEl.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw Fail($"'tie_word_embeddings' = {tieEl.GetRawText()} is not a boolean"),
                };

            return new ModelConfig
            {
                HiddenSize = hidden,
                IntermediateSize = Int("intermediate_size"),
                LayerCount = Int("num_hidden_layers"),
                HeadCount = heads,
                KeyValueHeadCount = kvHeads,
                VocabSize = Int("vocab_size"),
                RmsNormEpsilon = eps,
                RopeTheta = theta.Value,
                MaxPositionEmbeddings = Int("max_position_embeddings"),
                BosTokenId = TokenIds(root, "bos_token_id", Fail) is [int bos, ..] ? bos : null,
                EosTokenIds = TokenIds(root, "eos_token_id", Fail),
                Activation = activation,
                ActivationSource = "config.json hidden_act",
                TieWordEmbeddings = tie,
                Quantization = ReadQuantization(root, Fail),
            };
        }
    }

    /// <summary>The configuration of a GGUF file: its <see cref="GgufBitNetMetadata"/>, the tokenizer's bos/eos ids, and
    /// whether it has a separate <c>output.weight</c>.</summary>
    /// <exception cref="ModelFormatException">As <see cref="GgufBitNetMetadata.Read"/>.</exception>
    public static ModelConfig FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        GgufBitNetMetadata meta = GgufBitNetMetadata.Read(file);
        int? bos = file.TryGetUInt32(GgufKeys.BosTokenId, out uint b) ? (int)b : null;
        int[] eos = file.TryGetUInt32(GgufKeys.EosTokenId, out uint e) ? [(int)e] : [];
        return new ModelConfig
        {
            HiddenSize = meta.EmbeddingLength,
            IntermediateSize = meta.FeedForwardLength,
            LayerCount = meta.BlockCount,
            HeadCount = meta.HeadCount,
            KeyValueHeadCount = meta.HeadCountKv,
            VocabSize = meta.VocabSize,
            RmsNormEpsilon = meta.RmsNormEpsilon,
            RopeTheta = meta.RopeFreqBase,
            MaxPositionEmbeddings = meta.ContextLength,
            BosTokenId = bos,
            EosTokenIds = eos,
            Activation = meta.Activation,
            ActivationSource = $"GGUF {meta.ActivationSource}",
            TieWordEmbeddings = !file.ContainsTensor("output.weight"),
            Quantization = null,
        };
    }

    private static int[] TokenIds(JsonElement root, string key, Func<string, ModelFormatException> fail)
    {
        if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return [];
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int one) && one >= 0) return [one];
        if (v.ValueKind == JsonValueKind.Array)
        {
            var ids = new List<int>();
            foreach (var item in v.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int id) || id < 0)
                    throw fail($"'{key}' has an entry {item.GetRawText()} that is not a token id");
                ids.Add(id);
            }
            return ids.ToArray();
        }
        throw fail($"'{key}' = {v.GetRawText()} is not a token id or an array of them");
    }

    private static QuantizationConfig? ReadQuantization(JsonElement root, Func<string, ModelFormatException> fail)
    {
        if (!root.TryGetProperty("quantization_config", out var q) || q.ValueKind == JsonValueKind.Null) return null;
        if (q.ValueKind != JsonValueKind.Object) throw fail("'quantization_config' is not an object");
        string? Str(string key) => q.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        string? method = Str("quant_method");
        if (method is not null && method != "bitnet")
            throw fail($"quantization_config.quant_method '{method}' is not 'bitnet'");
        // transformers' BitNetQuantConfig defaults: linear_class "bitlinear", quantization_mode "offline"
        LinearClass linear = (Str("linear_class") ?? "bitlinear") switch
        {
            "bitlinear" => LinearClass.BitLinear,
            "autobitlinear" => LinearClass.AutoBitLinear,
            var other => throw fail($"quantization_config.linear_class '{other}' is not 'bitlinear' or 'autobitlinear'"),
        };
        QuantizationMode mode = (Str("quantization_mode") ?? "offline") switch
        {
            "offline" => QuantizationMode.Offline,
            "online" => QuantizationMode.Online,
            var other => throw fail($"quantization_config.quantization_mode '{other}' is not 'offline' or 'online'"),
        };
        return new QuantizationConfig(linear, mode);
    }
    /// <summary>The native form (<c>bn_model_config</c>) that bn_model_create and bn_trainer_create take.</summary>
    internal BnModelConfig ToNative() => new()
    {
        VocabSize = VocabSize,
        HiddenSize = HiddenSize,
        FfnSize = IntermediateSize,
        NLayers = LayerCount,
        NHeads = HeadCount,
        NKvHeads = KeyValueHeadCount,
        MaxPositions = MaxPositionEmbeddings,
        RopeTheta = RopeTheta,
        RmsEps = RmsNormEpsilon,
        Activation = (int)(Activation == FfnActivation.ReluSquared ? BnActivation.Relu2 : BnActivation.Silu),
        Reserved = 0,
    };

    /// <summary>Writes the fields of a Hugging Face <c>config.json</c> for this model (architecture, shapes, activation,
    /// RoPE, token ids, tying) into the open JSON object <paramref name="j"/>, with <c>torch_dtype</c> =
    /// <paramref name="torchDtype"/>; the caller adds what its layout needs (<c>quantization_config</c>, ...).</summary>
    internal void WriteHfConfigFields(Utf8JsonWriter j, string torchDtype)
    {
        j.WriteStartArray("architectures");
        j.WriteStringValue("BitNetForCausalLM");
        j.WriteEndArray();
        j.WriteString("model_type", "bitnet");
        j.WriteNumber("vocab_size", VocabSize);
        j.WriteNumber("hidden_size", HiddenSize);
        j.WriteNumber("intermediate_size", IntermediateSize);
        j.WriteNumber("num_hidden_layers", LayerCount);
        j.WriteNumber("num_attention_heads", HeadCount);
        j.WriteNumber("num_key_value_heads", KeyValueHeadCount);
        j.WriteString("hidden_act", Activation == FfnActivation.ReluSquared ? "relu2" : "silu");
        j.WriteNumber("max_position_embeddings", MaxPositionEmbeddings);
        j.WriteNumber("rms_norm_eps", (double)(decimal)RmsNormEpsilon);
        j.WriteNumber("rope_theta", (double)(decimal)RopeTheta);
        if (BosTokenId is int bos) j.WriteNumber("bos_token_id", bos);
        if (EosTokenIds.Count == 1) j.WriteNumber("eos_token_id", EosTokenIds[0]);
        else if (EosTokenIds.Count > 1)
        {
            j.WriteStartArray("eos_token_id");
            foreach (int e in EosTokenIds) j.WriteNumberValue(e);
            j.WriteEndArray();
        }
        j.WriteBoolean("tie_word_embeddings", TieWordEmbeddings);
        j.WriteBoolean("attention_bias", false);
        j.WriteString("torch_dtype", torchDtype);
    }
}
