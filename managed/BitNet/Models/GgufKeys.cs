namespace BitNet.Models;

/// <summary>Well-known GGUF metadata keys (gguf-py <c>constants.py</c>). Per-architecture keys take the
/// architecture name as their prefix: <c>GgufKeys.For(GgufKeys.ContextLength, "bitnet")</c> is "bitnet.context_length".</summary>
public static class GgufKeys
{
    /// <summary>String: the architecture whose per-architecture keys and tensor names the file uses.</summary>
    public const string Architecture = "general.architecture";
    /// <summary>UInt32, a power of two: alignment of the data section and of each tensor (default 32).</summary>
    public const string Alignment = "general.alignment";
    /// <summary>String: the model's name.</summary>
    public const string Name = "general.name";
    /// <summary>UInt32: the llama_ftype of the bulk of the tensors.</summary>
    public const string FileType = "general.file_type";
    /// <summary>UInt32: version of the quantization formats.</summary>
    public const string QuantizationVersion = "general.quantization_version";

    /// <summary>UInt32 (per architecture): training context length.</summary>
    public const string ContextLength = "{0}.context_length";
    /// <summary>UInt32 (per architecture): hidden size.</summary>
    public const string EmbeddingLength = "{0}.embedding_length";
    /// <summary>UInt32 (per architecture): number of layers.</summary>
    public const string BlockCount = "{0}.block_count";
    /// <summary>UInt32 (per architecture): FFN inner size.</summary>
    public const string FeedForwardLength = "{0}.feed_forward_length";
    /// <summary>UInt32 (per architecture): attention heads.</summary>
    public const string HeadCount = "{0}.attention.head_count";
    /// <summary>UInt32 (per architecture): key/value heads (GQA); defaults to the head count.</summary>
    public const string HeadCountKv = "{0}.attention.head_count_kv";
    /// <summary>Float32 (per architecture): RMSNorm epsilon.</summary>
    public const string RmsNormEpsilon = "{0}.attention.layer_norm_rms_epsilon";
    /// <summary>Float32 (per architecture): RoPE theta.</summary>
    public const string RopeFreqBase = "{0}.rope.freq_base";
    /// <summary>UInt32 (per architecture): vocabulary size, when written.</summary>
    public const string VocabSize = "{0}.vocab_size";
    /// <summary>String (per architecture): the FFN activation ("silu", "relu2"; llama.cpp LLM_KV_HIDDEN_ACT).</summary>
    public const string HiddenActivation = "{0}.hidden_activation";

    /// <summary>String: "gpt2" (byte-level BPE), "llama" (SentencePiece), ...</summary>
    public const string TokenizerModel = "tokenizer.ggml.model";
    /// <summary>String: the pre-tokenizer ("llama-bpe", ...).</summary>
    public const string TokenizerPre = "tokenizer.ggml.pre";
    /// <summary>Array of String: the vocabulary, by id.</summary>
    public const string Tokens = "tokenizer.ggml.tokens";
    /// <summary>Array of Int32: token types by id (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).</summary>
    public const string TokenTypes = "tokenizer.ggml.token_type";
    /// <summary>Array of Float32: SentencePiece scores by id.</summary>
    public const string Scores = "tokenizer.ggml.scores";
    /// <summary>Array of String: BPE merges, "a b", by rank.</summary>
    public const string Merges = "tokenizer.ggml.merges";
    /// <summary>UInt32: beginning-of-sequence token id.</summary>
    public const string BosTokenId = "tokenizer.ggml.bos_token_id";
    /// <summary>UInt32: end-of-sequence token id.</summary>
    public const string EosTokenId = "tokenizer.ggml.eos_token_id";
    /// <summary>UInt32: the unknown token id (SentencePiece vocabularies).</summary>
    public const string UnknownTokenId = "tokenizer.ggml.unknown_token_id";
    /// <summary>Bool: whether the model expects BOS first (llama.cpp adds it when true; true when absent).</summary>
    public const string AddBosToken = "tokenizer.ggml.add_bos_token";
    /// <summary>Bool: whether a SentencePiece tokenizer puts "▁" before the text (true when absent).</summary>
    public const string AddSpacePrefix = "tokenizer.ggml.add_space_prefix";
    /// <summary>UInt32: end-of-turn token id (Llama-3's <c>&lt;|eot_id|&gt;</c>), a stop token besides EOS.</summary>
    public const string EotTokenId = "tokenizer.ggml.eot_token_id";
    /// <summary>String: Jinja chat template.</summary>
    public const string ChatTemplate = "tokenizer.chat_template";

    /// <summary>A per-architecture key for <paramref name="architecture"/>.</summary>
    public static string For(string format, string architecture) => string.Format(System.Globalization.CultureInfo.InvariantCulture, format, architecture);
}
