using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace BitNet.TrainingBenchmarks.Torch;

/// <summary>
/// BitNet b1.58 decoder as transformers' <c>BitNetForCausalLM</c> computes it in training (online quantization with
/// the straight-through estimator, <c>quantization_mode: online</c>), written with TorchSharp's functional ops:
/// <list type="bullet">
/// <item>layer: h += o_proj(attn_sub_norm(attn(input_layernorm(h)))); h += down_proj(ffn_sub_norm(relu(gate)² · up))
/// with gate, up = gate_proj, up_proj of post_attention_layernorm(h);</item>
/// <item>attention: GQA (kv heads repeated), RoPE rotate-half, causal softmax(q kᵀ / √head_dim) v through
/// scaled_dot_product_attention (transformers' default "sdpa" path);</item>
/// <item>every *_proj is a BitLinear: w_q = w + (weight_quant(w) − w).detach(), x_q = x + (act_quant(x) − x).detach();
/// the LM head is the (unquantized) embedding matrix.</item>
/// </list>
/// Weights start as transformers initialises them: normal(0, 0.02) for linears and embeddings, norms at 1.
/// </summary>
internal sealed class BitNetTorchModel : IDisposable
{
    private const double NormEps = 1e-5;

    private sealed record Layer(
        Parameter InputNorm, Parameter Q, Parameter K, Parameter V, Parameter AttnSubNorm, Parameter O,
        Parameter PostAttnNorm, Parameter Gate, Parameter Up, Parameter FfnSubNorm, Parameter Down);

    private readonly BenchOptions _o;
    private readonly int _headDim;
    private readonly Parameter _embed; // [V, H], also the LM head
    private readonly Parameter _finalNorm; // [H]
    private readonly List<Layer> _layers = new();
    private readonly Dictionary<string, Parameter> _parameters = new(); // by HF tensor name
    private readonly Tensor _cos, _sin; // [1, 1, T, head_dim]

    public BitNetTorchModel(BenchOptions o)
    {
        _o = o;
        _headDim = o.Hidden / o.Heads;
        int kvDim = o.KvHeads * _headDim;
        _embed = Weight("model.embed_tokens.weight", o.Vocab, o.Hidden);
        for (int l = 0; l < o.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            _layers.Add(new Layer(
                InputNorm: Norm(p + "input_layernorm.weight", o.Hidden),
                Q: Weight(p + "self_attn.q_proj.weight", o.Hidden, o.Hidden),
                K: Weight(p + "self_attn.k_proj.weight", kvDim, o.Hidden),
                V: Weight(p + "self_attn.v_proj.weight", kvDim, o.Hidden),
                AttnSubNorm: Norm(p + "self_attn.attn_sub_norm.weight", o.Hidden),
                O: Weight(p + "self_attn.o_proj.weight", o.Hidden, o.Hidden),
                PostAttnNorm: Norm(p + "post_attention_layernorm.weight", o.Hidden),
                Gate: Weight(p + "mlp.gate_proj.weight", o.Intermediate, o.Hidden),
                Up: Weight(p + "mlp.up_proj.weight", o.Intermediate, o.Hidden),
                FfnSubNorm: Norm(p + "mlp.ffn_sub_norm.weight", o.Intermediate),
                Down: Weight(p + "mlp.down_proj.weight", o.Hidden, o.Intermediate)));
        }
        _finalNorm = Norm("model.norm.weight", o.Hidden);

        // HF "default" RoPE: inv_freq[i] = theta^(-2i/head_dim), angles [T, head_dim/2] duplicated to [T, head_dim].
        using (no_grad())
        {
            Tensor invFreq = pow(o.RopeTheta, arange(0, _headDim, 2, dtype: float64) / _headDim).reciprocal();
            Tensor angles = outer(arange(o.Seq, dtype: float64), invFreq);
            Tensor emb = cat(new[] { angles, angles }, -1);
            _cos = emb.cos().to_type(float32).view(1, 1, o.Seq, _headDim).DetachFromDisposeScope();
            _sin = emb.sin().to_type(float32).view(1, 1, o.Seq, _headDim).DetachFromDisposeScope();
        }
    }

    public IEnumerable<Parameter> Parameters => _parameters.Values;

    /// <summary>The parameters by their HF names (model.layers.0.self_attn.q_proj.weight, ...).</summary>
    public IReadOnlyDictionary<string, Parameter> NamedParameters => _parameters;

    private Parameter Weight(string name, int rows, int cols)
    {
        var p = new Parameter(normal(0.0, 0.02, new long[] { rows, cols }, dtype: float32), requires_grad: true);
        _parameters.Add(name, p);
        return p;
    }

    private Parameter Norm(string name, int n)
    {
        var p = new Parameter(ones(n, dtype: float32), requires_grad: true);
        _parameters.Add(name, p);
        return p;
    }

    /// <summary>ids [B, T] int64 (T ≤ --seq, positions 0..T-1) → logits [B, T, V].</summary>
    public Tensor Forward(Tensor ids)
    {
        long b = ids.shape[0], t = ids.shape[1];
        Tensor cos = _cos.narrow(2, 0, t), sin = _sin.narrow(2, 0, t);
        Tensor h = _embed.index_select(0, ids.reshape(-1)).view(b, t, _o.Hidden);
        foreach (Layer layer in _layers)
        {
            h = h + Attention(layer, RmsNorm(h, layer.InputNorm), cos, sin, b, t);
            h = h + Mlp(layer, RmsNorm(h, layer.PostAttnNorm));
        }
        h = RmsNorm(h, _finalNorm);
        return nn.functional.linear(h, _embed);
    }

    // x [B, T, H] -> [B, T, H]
    private Tensor Attention(Layer l, Tensor x, Tensor cos, Tensor sin, long b, long t)
    {
        Tensor q = BitLinear(x, l.Q).view(b, t, _o.Heads, _headDim).transpose(1, 2); // [B, NH, T, D]
        Tensor k = BitLinear(x, l.K).view(b, t, _o.KvHeads, _headDim).transpose(1, 2); // [B, NKV, T, D]
        Tensor v = BitLinear(x, l.V).view(b, t, _o.KvHeads, _headDim).transpose(1, 2);
        q = q * cos + RotateHalf(q) * sin;
        k = k * cos + RotateHalf(k) * sin;
        k = RepeatKv(k, b, t);
        v = RepeatKv(v, b, t);
        Tensor a = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true); // [B, NH, T, D]
        a = a.transpose(1, 2).reshape(b, t, _o.Hidden);
        return BitLinear(RmsNorm(a, l.AttnSubNorm), l.O);
    }

    // x [B, T, H] -> [B, T, H]: down(ffn_sub_norm(relu(gate x)² · up x))
    private Tensor Mlp(Layer l, Tensor x)
    {
        Tensor g = nn.functional.relu(BitLinear(x, l.Gate)).square();
        Tensor u = BitLinear(x, l.Up);
        return BitLinear(RmsNorm(g * u, l.FfnSubNorm), l.Down);
    }

    // transformers' repeat_kv: [B, NKV, T, D] -> [B, NH, T, D], each kv head shared by NH/NKV query heads.
    private Tensor RepeatKv(Tensor x, long b, long t)
    {
        int rep = _o.Heads / _o.KvHeads;
        if (rep == 1) return x;
        return x.unsqueeze(2).expand(b, _o.KvHeads, rep, t, _headDim).reshape(b, _o.Heads, t, _headDim);
    }

    private Tensor RotateHalf(Tensor x)
    {
        int half = _headDim / 2;
        Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
        return cat(new[] { -x2, x1 }, -1);
    }

    // BitNetRMSNorm: w · x / sqrt(mean(x²) + eps) over the last dimension.
    private static Tensor RmsNorm(Tensor x, Tensor w) =>
        w * (x * rsqrt(x.square().mean(new long[] { -1 }, keepdim: true) + NormEps));

    // BitLinear with the straight-through estimator, exactly as transformers' online BitLinear:
    //   weight_quant: s = 1 / clamp(mean|w|, 1e-5); round(w s).clamp(-1, 1) / s (per tensor)
    //   act_quant:    a = 127 / clamp(max|x|, 1e-5); round(x a).clamp(-128, 127) / a (per token)
    // x [.., in], w [out, in] -> [.., out]
    private static Tensor BitLinear(Tensor x, Tensor w)
    {
        Tensor wq;
        using (no_grad())
        {
            Tensor s = w.abs().mean().clamp_min(1e-5).reciprocal();
            wq = (w * s).round().clamp(-1, 1) / s;
        }
        Tensor xq;
        using (no_grad())
        {
            Tensor a = 127.0f / x.abs().amax(new long[] { -1 }, keepdim: true).clamp_min(1e-5);
            xq = (x * a).round().clamp(-128, 127) / a;
        }
        // value = the quantized tensor, gradient = identity (the .detach() trick: w + (q - w).detach())
        return nn.functional.linear(x + (xq - x).detach(), w + (wq - w).detach());
    }

    public void Dispose()
    {
        foreach (Parameter p in _parameters.Values) p.Dispose();
        _cos.Dispose();
        _sin.Dispose();
    }
}
