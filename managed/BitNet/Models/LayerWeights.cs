namespace BitNet.Models;

/// <summary>The weights of one BitNet b1.58 layer: seven ternary projections and four RMSNorm weight vectors.</summary>
public sealed record LayerWeights
{
    /// <summary>q_proj [hidden, hidden].</summary>
    public required TernaryTensor Q { get; init; }
    /// <summary>k_proj [kv heads × head dim, hidden].</summary>
    public required TernaryTensor K { get; init; }
    /// <summary>v_proj [kv heads × head dim, hidden].</summary>
    public required TernaryTensor V { get; init; }
    /// <summary>o_proj [hidden, hidden].</summary>
    public required TernaryTensor O { get; init; }
    /// <summary>gate_proj [ffn, hidden].</summary>
    public required TernaryTensor Gate { get; init; }
    /// <summary>up_proj [ffn, hidden].</summary>
    public required TernaryTensor Up { get; init; }
    /// <summary>down_proj [hidden, ffn].</summary>
    public required TernaryTensor Down { get; init; }
    /// <summary>input_layernorm (GGUF attn_norm) [hidden].</summary>
    public required float[] InputNorm { get; init; }
    /// <summary>post_attention_layernorm (GGUF ffn_norm) [hidden].</summary>
    public required float[] PostAttentionNorm { get; init; }
    /// <summary>self_attn.attn_sub_norm [hidden], applied before o_proj.</summary>
    public required float[] AttentionSubNorm { get; init; }
    /// <summary>mlp.ffn_sub_norm [ffn], applied before down_proj.</summary>
    public required float[] FfnSubNorm { get; init; }

    /// <summary>The seven projections in the order q, k, v, o, gate, up, down.</summary>
    public IReadOnlyList<TernaryTensor> Projections => [Q, K, V, O, Gate, Up, Down];
}
