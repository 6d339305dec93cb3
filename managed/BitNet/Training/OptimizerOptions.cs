namespace BitNet.Training;

/// <summary>
/// The optimizer of a training run, with its fixed hyper-parameters (the learning rate and weight decay come from
/// schedules, per step). The update formulas are PyTorch's (<c>bn_adamw_update</c>, <c>bn_sgd_update</c> in bitnet.h).
/// Weight decay applies to every tensor unless <see cref="ExemptNormsFromDecay"/> / <see cref="ExemptEmbeddingFromDecay"/>
/// set those tensors' decay multiplier to 0 (<c>bn_trainer_set_decay</c>).
/// </summary>
public abstract record OptimizerOptions
{
    private protected OptimizerOptions() { }

    /// <summary>No weight decay on RMSNorm weights (the usual GPT practice: decay only matrices).</summary>
    public bool ExemptNormsFromDecay { get; init; }

    /// <summary>No weight decay on the token embedding (the tied LM head).</summary>
    public bool ExemptEmbeddingFromDecay { get; init; }

    /// <summary>The name the command line and checkpoints use: "adamw" or "sgd".</summary>
    public abstract string Name { get; }
}

/// <summary>AdamW (<c>torch.optim.AdamW</c>: decoupled weight decay, bias-corrected moments).</summary>
public sealed record AdamWOptions : OptimizerOptions
{
    /// <summary>β1, the first moment's decay (default 0.9).</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>β2, the second moment's decay (default 0.95, the usual LLM pre-training value).</summary>
    public double Beta2 { get; init; } = 0.95;

    /// <summary>ε added to √v̂ (default 1e-8).</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <inheritdoc />
    public override string Name => "adamw";
}

/// <summary>SGD (<c>torch.optim.SGD</c>, dampening 0; weight decay added to the gradient).</summary>
public sealed record SgdOptions : OptimizerOptions
{
    /// <summary>Momentum (default 0: plain SGD).</summary>
    public double Momentum { get; init; }

    /// <summary>Nesterov momentum (needs <see cref="Momentum"/> &gt; 0).</summary>
    public bool Nesterov { get; init; }

    /// <inheritdoc />
    public override string Name => "sgd";
}
