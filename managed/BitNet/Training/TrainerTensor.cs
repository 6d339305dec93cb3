namespace BitNet.Training;

/// <summary>One parameter tensor of a <see cref="BitNetTrainer"/>.</summary>
/// <param name="Index">Its index in the trainer (the order of <c>bn_trainer_tensor_info</c>).</param>
/// <param name="Name">The Hugging Face name (<c>model.layers.0.self_attn.q_proj.weight</c>, ...).</param>
/// <param name="Rows">Rows ([out, in] for projections, [vocab, hidden] for the embedding, 1 for norms).</param>
/// <param name="Cols">Columns (the norm length for norms).</param>
/// <param name="IsTernary">True for the seven BitLinear projections of each layer.</param>
public sealed record TrainerTensor(int Index, string Name, int Rows, int Cols, bool IsTernary)
{
    /// <summary>Rows × Cols.</summary>
    public int ElementCount => checked(Rows * Cols);

    /// <summary>True for RMSNorm weights (vectors).</summary>
    public bool IsNorm => Name.EndsWith("norm.weight", StringComparison.Ordinal);

    /// <summary>True for the token embedding (also the tied LM head).</summary>
    public bool IsEmbedding => Name == BitNetTrainer.EmbeddingName;

    /// <summary>The shape as a safetensors file stores it: [Cols] for norms, [Rows, Cols] otherwise.</summary>
    public long[] Shape => IsNorm ? [Cols] : [Rows, Cols];
}
