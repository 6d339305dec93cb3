using System.Text.Json;
using BitNet.Inference.Sampling;
using BitNet.Interop;
using BitNet.Models;

namespace BitNet.Training;

/// <summary>
/// Quantization-aware training of a BitNet b1.58 model: the native <c>bn_trainer</c> (bitnet.h "Trainer"), which owns
/// the float32 master weights, their gradients, the optimizer moments and the activations of one micro-batch, and runs a
/// whole forward + backward per call. At blend 1 its forward is the inference forward of the same weights quantized
/// (ternary weights, int8 activations, straight-through gradients). Tensors carry their Hugging Face names
/// (<see cref="Tensors"/>); values cross as spans. A trainer is not thread-safe: one caller at a time.
/// <code>
/// using var trainer = BitNetTrainer.Create(config, batch: 8, sequenceLength: 256);
/// trainer.InitializeRandom(seed: 1);
/// trainer.ZeroGradients();
/// float loss = trainer.ForwardBackward(inputs, targets, 8, 256);
/// trainer.ClipGradientNorm(1.0);
/// trainer.Step(new AdamWOptions(), learningRate: 1e-3, weightDecay: 0.1, step: 1);
/// </code>
/// </summary>
public sealed class BitNetTrainer : IDisposable
{
    /// <summary>The HF name of the token embedding, which is also the tied LM head.</summary>
    public const string EmbeddingName = "model.embed_tokens.weight";

    /// <summary>Standard deviation of <see cref="InitializeRandom"/>'s normal weights (HF <c>initializer_range</c>).</summary>
    public const double InitializerRange = 0.02;

    /// <summary>Values per random stream of <see cref="InitializeRandom"/> (an even number: Box-Muller gives pairs).</summary>
    private const int InitBlock = 1 << 16;

    private readonly TrainerHandle _handle;
    private readonly Dictionary<string, TrainerTensor> _byName;

    private BitNetTrainer(TrainerHandle handle, ModelConfig config, int batch, int sequenceLength)
    {
        _handle = handle;
        Config = config;
        Batch = batch;
        SequenceLength = sequenceLength;
        Tensors = ReadTensorList(handle);
        _byName = Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Creates a trainer for <paramref name="config"/> whose weights are all zero (call
    /// <see cref="InitializeRandom"/> or <see cref="LoadWeights"/>).</summary>
    /// <param name="config">The model's shape; its LM head must be tied to the embedding.</param>
    /// <param name="batch">The most sequences per micro-batch.</param>
    /// <param name="sequenceLength">The most tokens per sequence (at most <see cref="ModelConfig.MaxPositionEmbeddings"/>).</param>
    /// <param name="threads">The pool the work runs on (null: the calling thread); it must not be disposed before the trainer.</param>
    /// <exception cref="ArgumentException">An untied LM head, or a batch or length below 1.</exception>
    /// <exception cref="BitNetException">The native library refused the shape (its status and message).</exception>
    public static BitNetTrainer Create(ModelConfig config, int batch, int sequenceLength, NativeThreadPool? threads = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 1);
        if (!config.TieWordEmbeddings)
            throw new ArgumentException("the trainer trains models whose LM head is the embedding (tie_word_embeddings), as BitNet b1.58's", nameof(config));
        TrainerHandle handle = TrainerHandle.Create(config.ToNative(), batch, sequenceLength, threads?.Handle);
        try
        {
            return new BitNetTrainer(handle, config, batch, sequenceLength);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The model's shape.</summary>
    public ModelConfig Config { get; }

    /// <summary>The most sequences per micro-batch.</summary>
    public int Batch { get; }

    /// <summary>The most tokens per sequence.</summary>
    public int SequenceLength { get; }

    /// <summary>The parameter tensors in the native order: the embedding, each layer's norms and projections, the final norm.</summary>
    public IReadOnlyList<TrainerTensor> Tensors { get; }

    /// <summary>The total number of parameters.</summary>
    public long ParameterCount => Tensors.Sum(t => (long)t.ElementCount);

    /// <summary>The tensor of that HF name.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor.</exception>
    public TrainerTensor this[string name] =>
        _byName.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"the trainer has no tensor '{name}'");

    /// <summary>The tensor of that HF name, or null.</summary>
    public TrainerTensor? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Copies one buffer of a tensor into <paramref name="destination"/> (exactly <see cref="TrainerTensor.ElementCount"/> floats).</summary>
    public unsafe void ReadTensor(TrainerTensor tensor, TrainBuffer which, Span<float> destination)
    {
        Check(tensor, destination.Length);
        using (new HandleReference(_handle))
        fixed (float* p = destination)
            BitNetException.Check(NativeMethods.bn_trainer_read(_handle.Native, (BnTrainBuffer)which, tensor.Index, p, destination.Length));
    }

    /// <summary>Copies <paramref name="source"/> (exactly <see cref="TrainerTensor.ElementCount"/> floats) into one buffer of a tensor.</summary>
    public unsafe void WriteTensor(TrainerTensor tensor, TrainBuffer which, ReadOnlySpan<float> source)
    {
        Check(tensor, source.Length);
        using (new HandleReference(_handle))
        fixed (float* p = source)
            BitNetException.Check(NativeMethods.bn_trainer_write(_handle.Native, (BnTrainBuffer)which, tensor.Index, p, source.Length));
    }

    /// <summary>A copy of one buffer of a tensor.</summary>
    public float[] ReadTensor(TrainerTensor tensor, TrainBuffer which)
    {
        var values = new float[tensor.ElementCount];
        ReadTensor(tensor, which, values);
        return values;
    }

    /// <summary>Sets a tensor's weight-decay multiplier (default 1; 0 exempts it).</summary>
    public void SetDecayMultiplier(TrainerTensor tensor, float multiplier)
    {
        Check(tensor, tensor.ElementCount);
        if (!float.IsFinite(multiplier) || multiplier < 0) throw new ArgumentOutOfRangeException(nameof(multiplier), multiplier, "must be a finite number >= 0");
        using (new HandleReference(_handle))
            BitNetException.Check(NativeMethods.bn_trainer_set_decay(_handle.Native, tensor.Index, multiplier));
    }

    /// <summary>Sets every tensor's decay multiplier from <paramref name="optimizer"/>'s exemptions: 0 for norms and/or the
    /// embedding where exempted, 1 otherwise.</summary>
    public void ApplyDecayExemptions(OptimizerOptions optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        foreach (TrainerTensor t in Tensors)
        {
            bool exempt = (t.IsNorm && optimizer.ExemptNormsFromDecay) || (t.IsEmbedding && optimizer.ExemptEmbeddingFromDecay);
            SetDecayMultiplier(t, exempt ? 0f : 1f);
        }
    }

    /// <summary>Hugging Face's initialisation (<c>BitNetPreTrainedModel._init_weights</c>): the embedding and every
    /// projection normal(0, <see cref="InitializerRange"/>), every RMSNorm weight 1. Deterministic: each block of
    /// 65536 values of tensor i draws from its own <see cref="Xoshiro256StarStar"/> seeded by
    /// (seed, i, block), Gaussians by Box-Muller in double rounded to float; blocks are generated in parallel, and the
    /// same seed gives the same weights on every machine and thread count. Gradients and moments are zeroed.</summary>
    public void InitializeRandom(ulong seed)
    {
        var values = new float[Tensors.Max(t => t.ElementCount)];
        foreach (TrainerTensor t in Tensors)
        {
            Span<float> v = values.AsSpan(0, t.ElementCount);
            if (t.IsNorm) v.Fill(1f);
            else
            {
                float[] target = values;
                int n = t.ElementCount;
                ulong tensorSeed = seed ^ ((ulong)(t.Index + 1) * 0x9E3779B97F4A7C15UL);
                Parallel.For(0, (n + InitBlock - 1) / InitBlock, block =>
                {
                    int start = block * InitBlock;
                    var rng = new Xoshiro256StarStar(tensorSeed ^ ((ulong)(block + 1) * 0xD1B54A32D192ED03UL));
                    FillNormal(rng, target.AsSpan(start, Math.Min(InitBlock, n - start)), InitializerRange);
                });
            }
            WriteTensor(t, TrainBuffer.Parameters, v);
        }
        ZeroOptimizerState();
    }

    /// <summary>Loads the weights of <paramref name="model"/> as master weights and zeroes gradients and moments. From a
    /// Hugging Face folder with float (F32/F16/BF16) projections the master values themselves are read; from packed
    /// folders and GGUF files (ternary codes × scale) the dequantized ternary weights become the masters, which
    /// quantize back to the same codes.</summary>
    /// <exception cref="ArgumentException">The model's shape is not the trainer's, or its LM head is untied.</exception>
    public void LoadWeights(BitNetModelFile model)
    {
        ArgumentNullException.ThrowIfNull(model);
        ModelConfig c = model.Config;
        if (c.HiddenSize != Config.HiddenSize || c.IntermediateSize != Config.IntermediateSize || c.LayerCount != Config.LayerCount
            || c.HeadCount != Config.HeadCount || c.KeyValueHeadCount != Config.KeyValueHeadCount || c.VocabSize != Config.VocabSize)
            throw new ArgumentException($"{model.Path}: its shape (hidden {c.HiddenSize}, ffn {c.IntermediateSize}, layers {c.LayerCount}, heads " +
                $"{c.HeadCount}/{c.KeyValueHeadCount}, vocab {c.VocabSize}) is not the trainer's (hidden {Config.HiddenSize}, ffn " +
                $"{Config.IntermediateSize}, layers {Config.LayerCount}, heads {Config.HeadCount}/{Config.KeyValueHeadCount}, vocab {Config.VocabSize})", nameof(model));
        if (model.LmHead is not null) throw new ArgumentException($"{model.Path}: an untied LM head cannot be trained (BitNet b1.58 ties it to the embedding)", nameof(model));

        using MasterTensorSource masters = MasterTensorSource.Open(model);
        WriteTensor(this[EmbeddingName], TrainBuffer.Parameters, model.Embedding.ToSingles());
        string[] norms = ["input_layernorm", "post_attention_layernorm", "self_attn.attn_sub_norm", "mlp.ffn_sub_norm"];
        string[] projections = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
        for (int l = 0; l < model.Layers.Count; l++)
        {
            LayerWeights layer = model.Layers[l];
            float[][] n = [layer.InputNorm, layer.PostAttentionNorm, layer.AttentionSubNorm, layer.FfnSubNorm];
            for (int i = 0; i < norms.Length; i++) WriteTensor(this[$"model.layers.{l}.{norms[i]}.weight"], TrainBuffer.Parameters, n[i]);
            for (int i = 0; i < projections.Length; i++)
            {
                TrainerTensor t = this[$"model.layers.{l}.{projections[i]}.weight"];
                TernaryTensor stored = layer.Projections[i];
                float[] w = masters.TryRead(t.Name, t.ElementCount) ?? Dequantize(stored);
                WriteTensor(t, TrainBuffer.Parameters, w);
            }
        }
        WriteTensor(this["model.norm.weight"], TrainBuffer.Parameters, model.FinalNorm);
        ZeroOptimizerState();
    }

    /// <summary>Zeroes the gradients (before the micro-batches of a step).</summary>
    public void ZeroGradients()
    {
        using (new HandleReference(_handle))
            BitNetException.Check(NativeMethods.bn_trainer_zero_grad(_handle.Native));
    }

    /// <summary>Forward and backward of one micro-batch: returns the mean cross-entropy over the counted targets and adds
    /// d(loss · <paramref name="gradScale"/>)/dθ to the gradients.</summary>
    /// <param name="inputs">Token ids (batch, length), row major.</param>
    /// <param name="targets">The next tokens (batch, length); -1 is ignored.</param>
    /// <param name="batch">Rows (1 .. <see cref="Batch"/>).</param>
    /// <param name="length">Tokens per row (1 .. <see cref="SequenceLength"/>).</param>
    /// <param name="blend">Progressive quantization (0: full precision, 1: ternary, as inference).</param>
    /// <param name="gradScale">1/k when k micro-batches are accumulated into one step.</param>
    /// <exception cref="ArgumentException">Spans of the wrong length.</exception>
    /// <exception cref="BitNetException">An id out of range, or a shape the trainer was not created for.</exception>
    public unsafe float ForwardBackward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batch, int length,
                                        float blend = 1f, float gradScale = 1f)
    {
        CheckBatch(inputs, targets, batch, length);
        float loss;
        using (new HandleReference(_handle))
        fixed (int* i = inputs)
        fixed (int* t = targets)
            BitNetException.Check(NativeMethods.bn_trainer_forward_backward(_handle.Native, i, t, batch, length, blend, gradScale, &loss));
        return loss;
    }

    /// <summary>Forward only: the mean cross-entropy over the counted targets and their count, and the logits
    /// (batch, length, vocab) into <paramref name="logits"/> when it is not empty.</summary>
    public unsafe EvaluationResult Evaluate(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batch, int length,
                                            float blend = 1f, Span<float> logits = default)
    {
        CheckBatch(inputs, targets, batch, length);
        long need = (long)batch * length * Config.VocabSize;
        if (!logits.IsEmpty && logits.Length < need)
            throw new ArgumentException($"logits holds {logits.Length} floats, ({batch}, {length}, {Config.VocabSize}) needs {need}", nameof(logits));
        float loss;
        long count;
        using (new HandleReference(_handle))
        fixed (int* i = inputs)
        fixed (int* t = targets)
        fixed (float* l = logits)
            BitNetException.Check(NativeMethods.bn_trainer_evaluate(_handle.Native, i, t, batch, length, blend, &loss, &count,
                logits.IsEmpty ? null : l, logits.IsEmpty ? 0 : logits.Length));
        return new EvaluationResult(loss, count);
    }

    /// <summary>The global L2 norm of all gradients (summed in double).</summary>
    public unsafe double GradientNorm()
    {
        double norm;
        using (new HandleReference(_handle))
            BitNetException.Check(NativeMethods.bn_trainer_grad_norm(_handle.Native, &norm));
        return norm;
    }

    /// <summary>Multiplies every gradient by <paramref name="factor"/>.</summary>
    public void ScaleGradients(float factor)
    {
        using (new HandleReference(_handle))
            BitNetException.Check(NativeMethods.bn_trainer_scale_grads(_handle.Native, factor));
    }

    /// <summary>Clips the gradients to a global L2 norm of at most <paramref name="maxNorm"/> (scaling them all by
    /// maxNorm / norm when the norm is larger) and returns the norm before clipping.</summary>
    public double ClipGradientNorm(double maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "must be positive");
        double norm = GradientNorm();
        if (norm > maxNorm) ScaleGradients((float)(maxNorm / norm));
        return norm;
    }

    /// <summary>One optimizer step over every tensor with the accumulated gradients.</summary>
    /// <param name="optimizer">AdamW or SGD and their hyper-parameters.</param>
    /// <param name="learningRate">This step's learning rate.</param>
    /// <param name="weightDecay">This step's weight decay (times each tensor's multiplier).</param>
    /// <param name="step">The 1-based count of optimizer steps, this one included (AdamW's bias correction; SGD's
    /// momentum buffer starts at step 1).</param>
    public unsafe void Step(OptimizerOptions optimizer, double learningRate, double weightDecay, long step)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        var p = new BnOptimizerParams { Lr = (float)learningRate, WeightDecay = (float)weightDecay, Step = step };
        switch (optimizer)
        {
            case AdamWOptions a:
                p.Kind = (int)BnOptimizerKind.Adamw;
                p.Beta1 = (float)a.Beta1;
                p.Beta2 = (float)a.Beta2;
                p.Eps = (float)a.Epsilon;
                break;
            case SgdOptions s:
                p.Kind = (int)BnOptimizerKind.Sgd;
                p.Momentum = (float)s.Momentum;
                p.Nesterov = s.Nesterov ? 1 : 0;
                break;
            default:
                throw new ArgumentException($"unknown optimizer {optimizer.GetType().Name}", nameof(optimizer));
        }
        using (new HandleReference(_handle))
            BitNetException.Check(NativeMethods.bn_trainer_optimizer_step(_handle.Native, &p));
    }

    /// <summary>Releases the native trainer.</summary>
    public void Dispose() => _handle.Dispose();

    // --- internals --------------------------------------------------------------------------------------------

    internal void ZeroOptimizerState()
    {
        var zeros = new float[Tensors.Max(t => t.ElementCount)];
        foreach (TrainerTensor t in Tensors)
        {
            WriteTensor(t, TrainBuffer.FirstMoment, zeros.AsSpan(0, t.ElementCount));
            WriteTensor(t, TrainBuffer.SecondMoment, zeros.AsSpan(0, t.ElementCount));
        }
        ZeroGradients();
    }


    // normal(0, std) by Box-Muller in double: u1 in (0, 1] so log(u1) is finite
    private static void FillNormal(Xoshiro256StarStar rng, Span<float> v, double std)
    {
        for (int i = 0; i < v.Length; i += 2)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1)) * std;
            v[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < v.Length) v[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
        }
    }

    private static float[] Dequantize(TernaryTensor t)
    {
        sbyte[] codes = t.GetCodes();
        var w = new float[codes.Length];
        for (int i = 0; i < codes.Length; i++) w[i] = codes[i] * t.Scale;
        return w;
    }

    private static unsafe TrainerTensor[] ReadTensorList(TrainerHandle handle)
    {
        using var _ = new HandleReference(handle);
        int n = NativeMethods.bn_trainer_tensor_count(handle.Native);
        var list = new TrainerTensor[n];
        for (int i = 0; i < n; i++)
        {
            byte* name;
            long rows, cols;
            int ternary;
            BitNetException.Check(NativeMethods.bn_trainer_tensor_info(handle.Native, i, &name, &rows, &cols, &ternary));
            list[i] = new TrainerTensor(i, NativeString.Read(name), checked((int)rows), checked((int)cols), ternary != 0);
        }
        return list;
    }

    private void Check(TrainerTensor tensor, int length)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if ((uint)tensor.Index >= (uint)Tensors.Count || Tensors[tensor.Index] != tensor)
            throw new ArgumentException($"tensor '{tensor.Name}' is not one of this trainer's", nameof(tensor));
        if (length != tensor.ElementCount)
            throw new ArgumentException($"tensor '{tensor.Name}' [{tensor.Rows}, {tensor.Cols}] has {tensor.ElementCount} values, the span {length}");
    }

    private void CheckBatch(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batch, int length)
    {
        if (batch < 1 || batch > Batch) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"must be 1 .. {Batch} (the trainer's batch)");
        if (length < 1 || length > SequenceLength) throw new ArgumentOutOfRangeException(nameof(length), length, $"must be 1 .. {SequenceLength} (the trainer's sequence length)");
        long n = (long)batch * length;
        if (inputs.Length != n) throw new ArgumentException($"inputs holds {inputs.Length} ids, ({batch}, {length}) needs {n}", nameof(inputs));
        if (targets.Length != n) throw new ArgumentException($"targets holds {targets.Length} ids, ({batch}, {length}) needs {n}", nameof(targets));
    }

    /// <summary>The float projection weights of a Hugging Face master folder, read by name from its safetensors file(s).</summary>
    private sealed class MasterTensorSource : IDisposable
    {
        private readonly List<SafetensorsFile> _files = new();
        private readonly Dictionary<string, SafetensorsFile> _byName = new(StringComparer.Ordinal);

        public static MasterTensorSource Open(BitNetModelFile model)
        {
            var source = new MasterTensorSource();
            if (model.Format != ModelFileFormat.HuggingFace) return source;
            try
            {
                string single = Path.Combine(model.Path, "model.safetensors");
                string index = Path.Combine(model.Path, "model.safetensors.index.json");
                IEnumerable<string> shards = File.Exists(single) ? [single] : ShardsOf(index, model.Path);
                foreach (string shard in shards)
                {
                    var f = SafetensorsFile.Open(shard);
                    source._files.Add(f);
                    foreach (TensorInfo t in f.Tensors) source._byName[t.Name] = f;
                }
                return source;
            }
            catch
            {
                source.Dispose();
                throw;
            }
        }

        private static IEnumerable<string> ShardsOf(string index, string folder)
        {
            // BitNetModelFile.Open has validated the index already
            using var doc = JsonDocument.Parse(File.ReadAllBytes(index));
            return doc.RootElement.GetProperty("weight_map").EnumerateObject().Select(e => e.Value.GetString()!)
                .Distinct(StringComparer.Ordinal).Select(s => Path.Combine(folder, s)).ToArray();
        }

        // the values of a float tensor of that name, or null when it is packed or absent
        public float[]? TryRead(string name, int count)
        {
            if (!_byName.TryGetValue(name, out var f)) return null;
            TensorInfo t = f[name];
            if (t.DType is not (DType.F32 or DType.F16 or DType.BF16) || t.ElementCount != count) return null;
            var v = new float[count];
            FloatConvert.ToSingle(t.DType, f.GetBytes(t), v);
            return v;
        }

        public void Dispose()
        {
            foreach (var f in _files) f.Dispose();
        }
    }
}
