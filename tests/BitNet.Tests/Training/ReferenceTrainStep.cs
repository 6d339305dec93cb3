using System.Text.Json;
using BitNet.Models;

namespace BitNet.Tests.Training;

/// <summary>Shapes and hyper-parameters of a HF BitNetForCausalLM config.json, read here with System.Text.Json rather
/// than the product's ModelConfig, so the reference shares no code with what it checks.</summary>
internal sealed record ReferenceConfig(int Vocab, int Hidden, int Ffn, int Layers, int Heads, int KvHeads,
    double RopeTheta, double RmsEps)
{
    public int HeadDim => Hidden / Heads;

    public int KvDim => KvHeads * HeadDim;

    public static ReferenceConfig Load(string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
        JsonElement r = doc.RootElement;
        string act = r.GetProperty("hidden_act").GetString() ?? "";
        if (act != "relu2") throw new NotSupportedException($"the reference implements relu2 only, not {act}");
        // transformers 5 writes rope_parameters.rope_theta, older checkpoints a top-level rope_theta (fixtures README).
        double theta = r.TryGetProperty("rope_theta", out JsonElement t)
            ? t.GetDouble()
            : r.GetProperty("rope_parameters").GetProperty("rope_theta").GetDouble();
        return new ReferenceConfig(r.GetProperty("vocab_size").GetInt32(), r.GetProperty("hidden_size").GetInt32(),
            r.GetProperty("intermediate_size").GetInt32(), r.GetProperty("num_hidden_layers").GetInt32(),
            r.GetProperty("num_attention_heads").GetInt32(), r.GetProperty("num_key_value_heads").GetInt32(), theta,
            r.GetProperty("rms_norm_eps").GetDouble());
    }

    /// <summary>Every parameter's HF name and shape, in bn_trainer's order (bitnet.h "Trainer"): the tied embedding,
    /// then per layer input_layernorm, q/k/v/o, attn_sub_norm, post_attention_layernorm, gate/up/down, ffn_sub_norm,
    /// then the final norm.</summary>
    public IReadOnlyList<(string Name, long[] Shape)> Parameters()
    {
        var list = new List<(string, long[])> { ("model.embed_tokens.weight", [Vocab, Hidden]) };
        for (int l = 0; l < Layers; l++)
        {
            string p = $"model.layers.{l}.";
            list.Add((p + "input_layernorm.weight", [Hidden]));
            list.Add((p + "self_attn.q_proj.weight", [Hidden, Hidden]));
            list.Add((p + "self_attn.k_proj.weight", [KvDim, Hidden]));
            list.Add((p + "self_attn.v_proj.weight", [KvDim, Hidden]));
            list.Add((p + "self_attn.o_proj.weight", [Hidden, Hidden]));
            list.Add((p + "self_attn.attn_sub_norm.weight", [Hidden]));
            list.Add((p + "post_attention_layernorm.weight", [Hidden]));
            list.Add((p + "mlp.gate_proj.weight", [Ffn, Hidden]));
            list.Add((p + "mlp.up_proj.weight", [Ffn, Hidden]));
            list.Add((p + "mlp.down_proj.weight", [Hidden, Ffn]));
            list.Add((p + "mlp.ffn_sub_norm.weight", [Ffn]));
        }
        list.Add(("model.norm.weight", [Hidden]));
        return list;
    }
}

/// <summary>
/// An independent reference of one quantization-aware training step of a BitNet b1.58 decoder (HF
/// BitNetForCausalLM, fixtures README), written from the formulas in plain C# doubles: forward with caches, backward,
/// and the PyTorch optimizers. It is deliberately simple (loops, no vectors, no native code) so that it is easy to
/// check by reading; the tests validate it on its own (forward against the HF reference logits, backward against
/// central finite differences) before comparing the product with it.
///
/// Quantization (HF WeightQuant / ActQuant) is done in float32 as HF does it: the scales s and a are float32, the
/// rounding is round-half-to-even on float32 products; everything else (matmuls, norms, RoPE, softmax, the backward
/// and the optimizers) is double. Backward is the straight-through estimator: both quantizers pass the gradient as
/// identity, so a BitLinear y = x_eff · W_effᵀ has dx = dy · W_eff and dW = dyᵀ · x_eff, with
/// W_eff = Q(W)/s and x_eff = Q(x)/a dequantized.
/// </summary>
internal sealed class ReferenceTrainStep
{
    private readonly ReferenceConfig _cfg;
    private readonly IReadOnlyDictionary<string, double[]> _w;
    private readonly bool _quantize;
    private readonly double _jitter;
    private readonly Random? _rng;

    /// <param name="weights">Parameters by HF name (not copied; read only).</param>
    /// <param name="quantize">false: no quantizers at all (a smooth full-precision model, for finite differences).</param>
    /// <param name="jitter">Adds Gaussian noise of jitter * rms(row) to every quantizer input before it is rounded to
    /// float32: a stand-in for the ~1e-6 float32 summation-order noise of another implementation, to measure how
    /// much the int8 step functions amplify it (the noise floor that the product comparison's tolerances must
    /// exceed). 0: none.</param>
    public ReferenceTrainStep(ReferenceConfig cfg, IReadOnlyDictionary<string, double[]> weights, bool quantize = true,
        double jitter = 0, int jitterSeed = 1)
    {
        _cfg = cfg;
        _w = weights;
        _quantize = quantize;
        _jitter = jitter;
        _rng = jitter > 0 ? new Random(jitterSeed) : null;
    }

    /// <summary>Master weights of a model folder's model.safetensors, widened to double (exactly).</summary>
    public static Dictionary<string, double[]> LoadWeights(string folder, ReferenceConfig cfg)
    {
        using var file = SafetensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        var result = new Dictionary<string, double[]>();
        foreach ((string name, long[] shape) in cfg.Parameters())
        {
            Assert.That(file[name].Shape, Is.EqualTo(shape), name);
            result[name] = Array.ConvertAll(file.ReadSingles(name), v => (double)v);
        }
        return result;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Forward with caches
    // ---------------------------------------------------------------------------------------------------------

    /// <summary>A BitLinear's forward cache: the dequantized input x_eff (N,In) and weight W_eff (Out,In).</summary>
    internal sealed record BitLinear(double[] XEff, double[] WEff, int In, int Out);

    internal sealed class LayerCache
    {
        public required double[] X, Rstd1, Xn1, QRot, KRot, V, Probs, Att, RstdA, AttN, H, Rstd2, Xn2, Gate, Up, Act,
            RstdF, ActN;
        public required BitLinear Q, K, Vp, O, G, U, D;
    }

    /// <summary>What a forward pass leaves for backward; Logits (N,V) and Hidden (L+1 arrays of (N,C), HF
    /// output_hidden_states order: embeddings, layer outputs, final-normed last layer).</summary>
    public sealed class ForwardResult
    {
        public required int B, T;
        public required int[] Inputs;
        public required double[] Logits;
        public required double[][] Hidden;
        internal List<LayerCache> Layers { get; init; } = [];
        internal double[] XLast = [], RstdLast = [];
    }

    /// <summary>inputs (B,T) row-major, positions 0..T-1 in each row.</summary>
    public ForwardResult Forward(int[] inputs, int B, int T)
    {
        ReferenceConfig c = _cfg;
        int N = B * T, C = c.Hidden, F = c.Ffn;
        Assert.That(inputs, Has.Length.EqualTo(N));
        double[] E = _w["model.embed_tokens.weight"];
        var x = new double[N * C];
        for (int n = 0; n < N; n++) Array.Copy(E, (long)inputs[n] * C, x, (long)n * C, C);
        var hidden = new double[c.Layers + 1][];
        hidden[0] = (double[])x.Clone();
        var layers = new List<LayerCache>();
        for (int l = 0; l < c.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            double[] rstd1 = new double[N], xn1 = RmsNorm(x, _w[p + "input_layernorm.weight"], N, C, rstd1);
            // The normed input is quantized once for q, k and v (bitnet.h "Model forward pass"); per-token
            // quantization is deterministic, so quantizing it three times would give the same codes anyway.
            double[] xq1 = QuantizeActivations(xn1, N, C);
            BitLinear q = Prepare(xq1, _w[p + "self_attn.q_proj.weight"], C, C);
            BitLinear k = Prepare(xq1, _w[p + "self_attn.k_proj.weight"], C, c.KvDim);
            BitLinear vp = Prepare(xq1, _w[p + "self_attn.v_proj.weight"], C, c.KvDim);
            double[] qRot = Apply(q, N), kRot = Apply(k, N), v = Apply(vp, N);
            Rope(qRot, N, T, c.Heads, inverse: false);
            Rope(kRot, N, T, c.KvHeads, inverse: false);
            var probs = new double[B * c.Heads * T * T];
            double[] att = AttentionForward(qRot, kRot, v, B, T, probs);
            double[] rstdA = new double[N], attN = RmsNorm(att, _w[p + "self_attn.attn_sub_norm.weight"], N, C, rstdA);
            BitLinear o = Prepare(QuantizeActivations(attN, N, C), _w[p + "self_attn.o_proj.weight"], C, C);
            double[] h = Apply(o, N);
            for (int i = 0; i < h.Length; i++) h[i] += x[i];

            double[] rstd2 = new double[N], xn2 = RmsNorm(h, _w[p + "post_attention_layernorm.weight"], N, C, rstd2);
            double[] xq2 = QuantizeActivations(xn2, N, C);
            BitLinear g = Prepare(xq2, _w[p + "mlp.gate_proj.weight"], C, F);
            BitLinear u = Prepare(xq2, _w[p + "mlp.up_proj.weight"], C, F);
            double[] gate = Apply(g, N), up = Apply(u, N), act = new double[N * F];
            // HF relu² FFN: act_fn(gate) * up with act_fn(z) = relu(z)².
            for (int i = 0; i < act.Length; i++)
            {
                double r = Math.Max(gate[i], 0);
                act[i] = r * r * up[i];
            }
            double[] rstdF = new double[N], actN = RmsNorm(act, _w[p + "mlp.ffn_sub_norm.weight"], N, F, rstdF);
            BitLinear d = Prepare(QuantizeActivations(actN, N, F), _w[p + "mlp.down_proj.weight"], F, C);
            double[] output = Apply(d, N);
            for (int i = 0; i < output.Length; i++) output[i] += h[i];

            layers.Add(new LayerCache
            {
                X = x, Rstd1 = rstd1, Xn1 = xn1, QRot = qRot, KRot = kRot, V = v, Probs = probs, Att = att,
                RstdA = rstdA, AttN = attN, H = h, Rstd2 = rstd2, Xn2 = xn2, Gate = gate, Up = up, Act = act,
                RstdF = rstdF, ActN = actN, Q = q, K = k, Vp = vp, O = o, G = g, U = u, D = d,
            });
            x = output;
            if (l + 1 < c.Layers) hidden[l + 1] = (double[])x.Clone();
        }
        double[] rstdLast = new double[N], hN = RmsNorm(x, _w["model.norm.weight"], N, C, rstdLast);
        hidden[c.Layers] = hN;
        // Tied LM head, not quantized: logits (N,V) = hN · Eᵀ.
        double[] logits = MatMulT(hN, E, N, C, c.Vocab);
        return new ForwardResult
        {
            B = B, T = T, Inputs = inputs, Logits = logits, Hidden = hidden, Layers = layers, XLast = x,
            RstdLast = rstdLast,
        };
    }

    /// <summary>Mean next-token cross-entropy over all N targets (natural log).</summary>
    public double Loss(ForwardResult f, int[] targets) => CrossEntropy(f.Logits, targets, f.Logits.Length / targets.Length, null);

    // ---------------------------------------------------------------------------------------------------------
    // Backward
    // ---------------------------------------------------------------------------------------------------------

    /// <summary>The loss and d(loss)/d(every parameter), by HF name.</summary>
    public (double Loss, Dictionary<string, double[]> Grads) LossAndGradients(int[] inputs, int[] targets, int B, int T)
    {
        ReferenceConfig c = _cfg;
        int N = B * T, C = c.Hidden, F = c.Ffn, V = c.Vocab;
        ForwardResult f = Forward(inputs, B, T);
        var grads = new Dictionary<string, double[]>();
        foreach ((string name, long[] shape) in c.Parameters()) grads[name] = new double[shape.Aggregate(1L, (a, b) => a * b)];

        var dLogits = new double[N * V];
        double loss = CrossEntropy(f.Logits, targets, V, dLogits);
        double[] E = _w["model.embed_tokens.weight"], dE = grads["model.embed_tokens.weight"];
        double[] hN = f.Hidden[c.Layers];
        // LM head: dhN = dlogits · E, dE += dlogitsᵀ · hN.
        double[] dhN = MatMul(dLogits, E, N, V, C);
        AccumulateOuter(dLogits, hN, N, V, C, dE);
        var dx = new double[N * C];
        RmsNormBackward(dhN, f.XLast, _w["model.norm.weight"], f.RstdLast, N, C, dx, grads["model.norm.weight"]);

        for (int l = c.Layers - 1; l >= 0; l--)
        {
            string p = $"model.layers.{l}.";
            LayerCache L = f.Layers[l];
            // out = h + down(ffn_sub_norm(act)): dh = dout + (FFN branch).
            double[] dh = (double[])dx.Clone();
            double[] dActN = BitLinearBackward(L.D, dx, N, grads[p + "mlp.down_proj.weight"]);
            var dAct = new double[N * F];
            RmsNormBackward(dActN, L.Act, _w[p + "mlp.ffn_sub_norm.weight"], L.RstdF, N, F, dAct,
                grads[p + "mlp.ffn_sub_norm.weight"]);
            double[] dGate = new double[N * F], dUp = new double[N * F];
            for (int i = 0; i < dAct.Length; i++)
            {
                double r = Math.Max(L.Gate[i], 0);
                dGate[i] = dAct[i] * L.Up[i] * 2 * r;
                dUp[i] = dAct[i] * r * r;
            }
            double[] dXn2 = BitLinearBackward(L.G, dGate, N, grads[p + "mlp.gate_proj.weight"]);
            Add(dXn2, BitLinearBackward(L.U, dUp, N, grads[p + "mlp.up_proj.weight"]));
            RmsNormBackward(dXn2, L.H, _w[p + "post_attention_layernorm.weight"], L.Rstd2, N, C, dh,
                grads[p + "post_attention_layernorm.weight"]);

            // h = x + o(attn_sub_norm(attention)): dx = dh + (attention branch).
            double[] dxIn = (double[])dh.Clone();
            double[] dAttN = BitLinearBackward(L.O, dh, N, grads[p + "self_attn.o_proj.weight"]);
            var dAtt = new double[N * C];
            RmsNormBackward(dAttN, L.Att, _w[p + "self_attn.attn_sub_norm.weight"], L.RstdA, N, C, dAtt,
                grads[p + "self_attn.attn_sub_norm.weight"]);
            double[] dq = new double[N * C], dk = new double[N * c.KvDim], dv = new double[N * c.KvDim];
            AttentionBackward(dAtt, L.QRot, L.KRot, L.V, L.Probs, B, T, dq, dk, dv);
            Rope(dq, N, T, c.Heads, inverse: true);
            Rope(dk, N, T, c.KvHeads, inverse: true);
            double[] dXn1 = BitLinearBackward(L.Q, dq, N, grads[p + "self_attn.q_proj.weight"]);
            Add(dXn1, BitLinearBackward(L.K, dk, N, grads[p + "self_attn.k_proj.weight"]));
            Add(dXn1, BitLinearBackward(L.Vp, dv, N, grads[p + "self_attn.v_proj.weight"]));
            RmsNormBackward(dXn1, L.X, _w[p + "input_layernorm.weight"], L.Rstd1, N, C, dxIn,
                grads[p + "input_layernorm.weight"]);
            dx = dxIn;
        }
        // Embedding: dE[id] += dx rows (the same dE as the LM head's: tied).
        for (int n = 0; n < N; n++)
        {
            long row = (long)inputs[n] * C;
            for (int i = 0; i < C; i++) dE[row + i] += dx[n * C + i];
        }
        return (loss, grads);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Optimizers (bitnet.h "Optimizer updates", i.e. PyTorch's formulas), in place on double parameters
    // ---------------------------------------------------------------------------------------------------------

    /// <summary>torch.optim.AdamW (decoupled decay, bias corrections, amsgrad off): p *= 1 - lr*wd;
    /// m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g²; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).</summary>
    public static void AdamW(double[] p, double[] g, double[] m, double[] v, double lr, double beta1, double beta2,
        double eps, double weightDecay, int step)
    {
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        for (int i = 0; i < p.Length; i++)
        {
            p[i] *= 1 - lr * weightDecay;
            m[i] = beta1 * m[i] + (1 - beta1) * g[i];
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
            p[i] -= lr / bc1 * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(bc2) + eps);
        }
    }

    /// <summary>torch.optim.SGD (dampening 0, nesterov off): d = g + wd*p; buf = d at step 1, else
    /// momentum*buf + d; p -= lr * (momentum != 0 ? buf : d).</summary>
    public static void Sgd(double[] p, double[] g, double[] buf, double lr, double momentum, double weightDecay, int step)
    {
        for (int i = 0; i < p.Length; i++)
        {
            double d = g[i] + weightDecay * p[i];
            if (momentum != 0)
            {
                buf[i] = step == 1 ? d : momentum * buf[i] + d;
                d = buf[i];
            }
            p[i] -= lr * d;
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Ops
    // ---------------------------------------------------------------------------------------------------------

    /// <summary>HF ActQuant per row (token) of x (N,C), in float32: a = 127 / max(max|x|, 1e-5),
    /// codes = clamp(round_half_even(x * a), -128, 127); returns codes / a (x_eff) as double. Without quantization
    /// returns x itself.</summary>
    private double[] QuantizeActivations(double[] x, int N, int C)
    {
        if (!_quantize) return x;
        var result = new double[N * C];
        var xf = new float[C];
        for (int n = 0; n < N; n++)
        {
            double rms = 0;
            for (int i = 0; i < C; i++) rms += x[n * C + i] * x[n * C + i];
            rms = Math.Sqrt(rms / C);
            float amax = 0;
            for (int i = 0; i < C; i++)
            {
                double value = x[n * C + i];
                if (_rng is not null) value += _jitter * rms * Gaussian(_rng);
                xf[i] = (float)value;
                amax = MathF.Max(amax, MathF.Abs(xf[i]));
            }
            float a = 127f / MathF.Max(amax, 1e-5f);
            for (int i = 0; i < C; i++)
            {
                float code = Math.Clamp(MathF.Round(xf[i] * a, MidpointRounding.ToEven), -128f, 127f);
                result[n * C + i] = code / (double)a;
            }
        }
        return result;
    }

    /// <summary>HF WeightQuant of W (Out,In) per tensor, in float32: s = 1 / max(mean|W|, 1e-5),
    /// codes = clamp(round_half_even(W * s), -1, 1), W_eff = codes / s. mean|W| is summed in double and rounded
    /// to float32 once (torch's float32 reduction may differ from it by an ulp).</summary>
    private BitLinear Prepare(double[] xEff, double[] w, int inDim, int outDim)
    {
        Assert.That(w, Has.Length.EqualTo(inDim * outDim));
        if (!_quantize) return new BitLinear(xEff, w, inDim, outDim);
        double sum = 0;
        foreach (double value in w) sum += Math.Abs((float)value);
        float mean = (float)(sum / w.Length);
        float s = 1f / MathF.Max(mean, 1e-5f);
        var wEff = new double[w.Length];
        for (int i = 0; i < w.Length; i++)
            wEff[i] = Math.Clamp(MathF.Round((float)w[i] * s, MidpointRounding.ToEven), -1f, 1f) / (double)s;
        return new BitLinear(xEff, wEff, inDim, outDim);
    }

    /// <summary>y (N,Out) = x_eff · W_effᵀ: the README's (x_q · W_qᵀ) / (s * a) with the float32 scales, in double.</summary>
    private static double[] Apply(BitLinear b, int N) => MatMulT(b.XEff, b.WEff, N, b.In, b.Out);

    /// <summary>Straight-through BitLinear backward: returns dx (N,In) = dy · W_eff; dW (Out,In) += dyᵀ · x_eff.</summary>
    private static double[] BitLinearBackward(BitLinear b, double[] dy, int N, double[] dW)
    {
        AccumulateOuter(dy, b.XEff, N, b.Out, b.In, dW);
        return MatMul(dy, b.WEff, N, b.Out, b.In);
    }

    /// <summary>HF BitNetRMSNorm: y = w * x / sqrt(mean(x²) + eps) over rows of x (N,C); rstd (N) out.</summary>
    private double[] RmsNorm(double[] x, double[] w, int N, int C, double[] rstd)
    {
        var y = new double[N * C];
        for (int n = 0; n < N; n++)
        {
            double ss = 0;
            for (int i = 0; i < C; i++) ss += x[n * C + i] * x[n * C + i];
            rstd[n] = 1 / Math.Sqrt(ss / C + _cfg.RmsEps);
            for (int i = 0; i < C; i++) y[n * C + i] = w[i] * x[n * C + i] * rstd[n];
        }
        return y;
    }

    /// <summary>RMSNorm backward: dx += r * (dy*w - x * r² * mean(dy*w*x)), dw += dy * x * r, per row.</summary>
    private static void RmsNormBackward(double[] dy, double[] x, double[] w, double[] rstd, int N, int C, double[] dx,
        double[] dw)
    {
        for (int n = 0; n < N; n++)
        {
            double r = rstd[n], dot = 0;
            for (int i = 0; i < C; i++) dot += dy[n * C + i] * w[i] * x[n * C + i];
            dot /= C;
            for (int i = 0; i < C; i++)
            {
                int j = n * C + i;
                dx[j] += r * (dy[j] * w[i] - x[j] * r * r * dot);
                dw[i] += dy[j] * x[j] * r;
            }
        }
    }

    /// <summary>HF rotate-half RoPE in place on x (N,Heads,D), token n at position n % T: for i &lt; D/2 with
    /// angle pos * theta^(-2i/D), (x_i, x_{i+D/2}) -> (x_i cos - x_{i+D/2} sin, x_{i+D/2} cos + x_i sin).
    /// inverse: the transpose (rotation by -angle), which is the backward.</summary>
    private void Rope(double[] x, int N, int T, int heads, bool inverse)
    {
        int D = _cfg.HeadDim, half = D / 2;
        for (int n = 0; n < N; n++)
        {
            int pos = n % T;
            for (int i = 0; i < half; i++)
            {
                double angle = pos * Math.Pow(_cfg.RopeTheta, -2.0 * i / D);
                double cos = Math.Cos(angle), sin = inverse ? -Math.Sin(angle) : Math.Sin(angle);
                for (int h = 0; h < heads; h++)
                {
                    int j = (n * heads + h) * D + i;
                    double a = x[j], b = x[j + half];
                    x[j] = a * cos - b * sin;
                    x[j + half] = b * cos + a * sin;
                }
            }
        }
    }

    /// <summary>Causal GQA: q (B,T,H,D), k, v (B,T,Hkv,D) -> out (B,T,H,D); query head h reads kv head
    /// h / (H/Hkv) (HF repeat_kv); scores q·k / sqrt(D); probs (B,H,T,T) kept for backward.</summary>
    private double[] AttentionForward(double[] q, double[] k, double[] v, int B, int T, double[] probs)
    {
        int H = _cfg.Heads, Hkv = _cfg.KvHeads, D = _cfg.HeadDim, group = H / Hkv;
        double scale = 1 / Math.Sqrt(D);
        var output = new double[B * T * H * D];
        for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
        for (int t = 0; t < T; t++)
        {
            int qo = ((b * T + t) * H + h) * D, po = ((b * H + h) * T + t) * T;
            double max = double.NegativeInfinity;
            for (int j = 0; j <= t; j++)
            {
                int ko = ((b * T + j) * Hkv + h / group) * D;
                double s = 0;
                for (int d = 0; d < D; d++) s += q[qo + d] * k[ko + d];
                probs[po + j] = s * scale;
                max = Math.Max(max, probs[po + j]);
            }
            double sum = 0;
            for (int j = 0; j <= t; j++) sum += probs[po + j] = Math.Exp(probs[po + j] - max);
            for (int j = 0; j <= t; j++)
            {
                probs[po + j] /= sum;
                int vo = ((b * T + j) * Hkv + h / group) * D;
                for (int d = 0; d < D; d++) output[qo + d] += probs[po + j] * v[vo + d];
            }
        }
        return output;
    }

    /// <summary>dP = dout·vᵀ; dS = P * (dP - Σ P dP); dq += dS·k / sqrt(D); dk += dSᵀ·q / sqrt(D); dv += Pᵀ·dout.</summary>
    private void AttentionBackward(double[] dout, double[] q, double[] k, double[] v, double[] probs, int B, int T,
        double[] dq, double[] dk, double[] dv)
    {
        int H = _cfg.Heads, Hkv = _cfg.KvHeads, D = _cfg.HeadDim, group = H / Hkv;
        double scale = 1 / Math.Sqrt(D);
        var dp = new double[T];
        for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
        for (int t = 0; t < T; t++)
        {
            int qo = ((b * T + t) * H + h) * D, po = ((b * H + h) * T + t) * T;
            double dot = 0;
            for (int j = 0; j <= t; j++)
            {
                int vo = ((b * T + j) * Hkv + h / group) * D;
                double s = 0;
                for (int d = 0; d < D; d++)
                {
                    s += dout[qo + d] * v[vo + d];
                    dv[vo + d] += probs[po + j] * dout[qo + d];
                }
                dp[j] = s;
                dot += probs[po + j] * s;
            }
            for (int j = 0; j <= t; j++)
            {
                double ds = probs[po + j] * (dp[j] - dot) * scale;
                int ko = ((b * T + j) * Hkv + h / group) * D;
                for (int d = 0; d < D; d++)
                {
                    dq[qo + d] += ds * k[ko + d];
                    dk[ko + d] += ds * q[qo + d];
                }
            }
        }
    }

    /// <summary>Mean cross-entropy of logits (N,V) against targets (N); dLogits (N,V) = (softmax - onehot) / N when
    /// not null.</summary>
    private static double CrossEntropy(double[] logits, int[] targets, int V, double[]? dLogits)
    {
        int N = targets.Length;
        double loss = 0;
        for (int n = 0; n < N; n++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int i = 0; i < V; i++) max = Math.Max(max, logits[n * V + i]);
            for (int i = 0; i < V; i++) sum += Math.Exp(logits[n * V + i] - max);
            double lse = max + Math.Log(sum);
            loss += lse - logits[n * V + targets[n]];
            if (dLogits is null) continue;
            for (int i = 0; i < V; i++) dLogits[n * V + i] = Math.Exp(logits[n * V + i] - lse) / N;
            dLogits[n * V + targets[n]] -= 1.0 / N;
        }
        return loss / N;
    }

    /// <summary>(M,K) · (N,K)ᵀ -> (M,N).</summary>
    private static double[] MatMulT(double[] a, double[] b, int M, int K, int N)
    {
        var c = new double[M * N];
        for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++)
        {
            double s = 0;
            for (int k = 0; k < K; k++) s += a[m * K + k] * b[n * K + k];
            c[m * N + n] = s;
        }
        return c;
    }

    /// <summary>(M,K) · (K,N) -> (M,N).</summary>
    private static double[] MatMul(double[] a, double[] b, int M, int K, int N)
    {
        var c = new double[M * N];
        for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++)
        {
            double s = a[m * K + k];
            if (s == 0) continue;
            for (int n = 0; n < N; n++) c[m * N + n] += s * b[k * N + n];
        }
        return c;
    }

    /// <summary>c (P,Q) += aᵀ · b for a (M,P), b (M,Q).</summary>
    private static void AccumulateOuter(double[] a, double[] b, int M, int P, int Q, double[] c)
    {
        for (int m = 0; m < M; m++)
        for (int p = 0; p < P; p++)
        {
            double s = a[m * P + p];
            if (s == 0) continue;
            for (int q = 0; q < Q; q++) c[p * Q + q] += s * b[m * Q + q];
        }
    }

    private static void Add(double[] into, double[] x)
    {
        for (int i = 0; i < into.Length; i++) into[i] += x[i];
    }

    private static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
