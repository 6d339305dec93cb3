namespace BitNet.Cli.Commands;

/// <summary>What `bitnet inspect` reports; printed as tables, or as this object in JSON with --json.</summary>
/// <param name="Path">The model folder or file.</param>
/// <param name="Format">"huggingface" or "gguf".</param>
/// <param name="Config">The hyper-parameters.</param>
/// <param name="Metadata">The file's own metadata (GGUF keys with arrays summarised; safetensors __metadata__).</param>
/// <param name="Tensors">Every stored tensor.</param>
/// <param name="TotalBytes">The sum of the tensors' bytes.</param>
/// <param name="Tokenizer">The tokenizer's vocabulary size and bos/eos, or null when there is none.</param>
internal sealed record InspectReport(
    string Path,
    string Format,
    InspectConfig Config,
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<InspectTensor> Tensors,
    long TotalBytes,
    InspectTokenizer? Tokenizer);

/// <summary>The model's hyper-parameters.</summary>
internal sealed record InspectConfig(
    int HiddenSize,
    int IntermediateSize,
    int NumHiddenLayers,
    int NumAttentionHeads,
    int NumKeyValueHeads,
    int HeadDim,
    int VocabSize,
    float RmsNormEps,
    float RopeTheta,
    int MaxPositionEmbeddings,
    int? BosTokenId,
    IReadOnlyList<int> EosTokenIds,
    string HiddenAct,
    string HiddenActSource,
    bool TieWordEmbeddings,
    string? LinearClass,
    string? QuantizationMode,
    string ProjectionType);

/// <summary>One stored tensor: name, type, shape (outermost first) and bytes.</summary>
internal sealed record InspectTensor(string Name, string Type, long[] Shape, long Bytes);

/// <summary>The tokenizer's size and special ids.</summary>
internal sealed record InspectTokenizer(int VocabSize, int? BosId, int? EosId);
