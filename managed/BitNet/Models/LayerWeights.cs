using System.Diagnostics.CodeAnalysis;

namespace BitNet.Models;

/// <summary>The weights of one BitNet b1.58 layer: seven ternary projections and four RMSNorm weight vectors.</summary>
public sealed record LayerWeights
{
    private readonly Lazy<float[]>[] _norms;

    /// <summary>The projections in <see cref="Projections"/> order and the readers of the norms in the order input,
    /// post-attention, attention sub-norm, FFN sub-norm (each called once, on first use).</summary>
    [SetsRequiredMembers]
    internal LayerWeights(TernaryTensor[] projections, Func<float[]>[] norms)
    {
        (Q, K, V, O, Gate, Up, Down) = (projections[0], projections[1], projections[2], projections[3], projections[4], projections[5], projections[6]);
        _norms = [.. norms.Select(f => new Lazy<float[]>(f))];
    }

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
    /// <summary>input_layernorm (GGUF attn_norm) [hidden], read from the file on first use.</summary>
    public float[] InputNorm => _norms[0].Value;
    /// <summary>post_attention_layernorm (GGUF ffn_norm) [hidden].</summary>
    public float[] PostAttentionNorm => _norms[1].Value;
    /// <summary>self_attn.attn_sub_norm [hidden], applied before o_proj.</summary>
    public float[] AttentionSubNorm => _norms[2].Value;
    /// <summary>mlp.ffn_sub_norm [ffn], applied before down_proj.</summary>
    public float[] FfnSubNorm => _norms[3].Value;

    /// <summary>The seven projections in the order q, k, v, o, gate, up, down.</summary>
    public IReadOnlyList<TernaryTensor> Projections => [Q, K, V, O, Gate, Up, Down];
}
