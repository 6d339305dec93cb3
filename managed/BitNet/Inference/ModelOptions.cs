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

    /// <summary>Whether projections stored as I2_S x86 are copied at load into the row order this CPU's kernels stream
    /// fastest (true, the default, where that order differs: I2S_X4 on x86, whose decode reads the weights at ~95% of the
    /// memory bandwidth against ~78% in the file's order), or run in place from the file mapping (false: no copy, and
    /// the pages stay shareable between processes that map the same file). Either way the results are the same bits
    /// and the resident memory is the same: the mapped pages of a copied tensor are released.</summary>
    public bool InterleaveRows { get; init; } = true;

    /// <summary>Token ids to tell the I2_S layouts apart with instead of the built-in English probe (tests: a random
    /// model's own greedy continuation is text it predicts in its true layout only).</summary>
    internal IReadOnlyList<int>? I2SProbeTokens { get; init; }
}
