using BitNet.Models;

namespace BitNet.Inference;

/// <summary>How <see cref="BitNetModel.Load"/> reads and prepares a model.</summary>
public sealed record ModelOptions
{
    /// <summary>The default options.</summary>
    public static ModelOptions Default { get; } = new();

    /// <summary>How the file is read (activation override, I2_S layout, whether to read the tokenizer).</summary>
    public ModelLoadOptions FileOptions { get; init; } = ModelLoadOptions.Default;

    /// <summary>Where converted weights (packings other than I2_S x86, master weights, norms) are allocated
    /// (null: <see cref="NativeMemoryPool.Shared"/>). It must outlive the model; buffers hold a reference on it.</summary>
    public NativeMemoryPool? Pool { get; init; }

    /// <summary>Token ids to tell the I2_S layouts apart with instead of the built-in English probe (tests: a random
    /// model's own greedy continuation is text it predicts in its true layout only).</summary>
    internal IReadOnlyList<int>? I2SProbeTokens { get; init; }
}
