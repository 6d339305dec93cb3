using BitNet.Interop;
using BitNet.Models;
using BitNet.Quantization;
using BitNet.Tokenization;

namespace BitNet.Inference;

/// <summary>
/// A BitNet b1.58 model ready to run: the native <c>bn_model</c> over the weights of a <see cref="BitNetModelFile"/>.
/// Projections stored as I2_S x86 and embeddings in any stored type (F32, F16, BF16, Q8_0, Q6_K) are referenced in the
/// memory-mapped file, not copied; other packings (HF 2B4T, TQ1_0, TQ2_0, I2_S ARM) and master weights are converted
/// once into pooled I2_S x86 buffers that the model keeps. The file stays open (mapped) until <see cref="Dispose"/>;
/// sessions (<see cref="CreateSession"/>) keep the native model alive until they are disposed too.
/// <code>
/// using var model = BitNetModel.Load("bitnet-b1.58-2B-4T/");
/// using var session = model.CreateSession();
/// await foreach (string piece in session.GenerateAsync("Hello", new GenerationOptions { Seed = 1 })) Console.Write(piece);
/// </code>
/// </summary>
public sealed class BitNetModel : IDisposable
{
    private readonly BitNetModelFile _file;
    private readonly List<IDisposable> _buffers = new();
    private readonly ModelHandle _handle;

    private BitNetModel(BitNetModelFile file, ModelHandle handle)
    {
        _file = file;
        _handle = handle;
    }

    /// <summary>The hyper-parameters.</summary>
    public ModelConfig Config => _file.Config;

    /// <summary>The tokenizer, or null when the model has none (or it was not loaded).</summary>
    public BpeTokenizer? Tokenizer => _file.Tokenizer;

    /// <summary>The file the weights come from (open while the model is).</summary>
    public BitNetModelFile File => _file;

    /// <summary>How many projections were converted to I2_S x86 at load (0 when the file stores I2_S x86).</summary>
    public int ConvertedProjections { get; private set; }

    internal ModelHandle Handle => _handle;

    /// <summary>Opens <paramref name="path"/> (a Hugging Face folder or a GGUF file, CLI.md "Models") and builds the
    /// native model.</summary>
    /// <exception cref="FileNotFoundException">Nothing at <paramref name="path"/>.</exception>
    /// <exception cref="ModelFormatException">The files are incomplete or inconsistent.</exception>
    /// <exception cref="BitNetException">The native library refused a shape or weight (its status and message).</exception>
    public static BitNetModel Load(string path, ModelOptions? options = null)
    {
        options ??= ModelOptions.Default;
        BitNetModelFile file = BitNetModelFile.Open(path, options.FileOptions);
        BitNetModel? model = null;
        try
        {
            if (!file.Config.TieWordEmbeddings || file.LmHead is not null)
                throw new ModelFormatException(path, "an untied LM head is not supported by the native forward pass (BitNet b1.58 ties it to the embedding)");
            ModelHandle handle = ModelHandle.Create(NativeConfig(file.Config));
            model = new BitNetModel(file, handle);
            model.SetWeights(options.Pool ?? NativeMemoryPool.Shared);
            return model;
        }
        catch
        {
            if (model is not null) model.Dispose();
            else file.Dispose();
            throw;
        }
    }

    /// <summary>Creates an inference session (its own KV cache and scratch) on this model.</summary>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public InferenceSession CreateSession(SessionOptions? options = null)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposeRequested, this);
            _liveSessions++;
        }
        try
        {
            return new InferenceSession(this, options ?? SessionOptions.Default);
        }
        catch
        {
            SessionClosed();
            throw;
        }
    }

    /// <summary>Releases the native model, the converted buffers and the file: at once, or when the last session on
    /// the model is disposed if some are still open (their weights stay valid until then).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposeRequested = true;
            if (_liveSessions > 0) return;
        }
        Release();
    }

    internal void SessionClosed()
    {
        bool release;
        lock (_gate) release = --_liveSessions == 0 && _disposeRequested;
        if (release) Release();
    }

    private void Release()
    {
        _handle.Dispose();
        foreach (IDisposable b in _buffers) b.Dispose();
        _buffers.Clear();
        _file.Dispose();
    }

    private readonly object _gate = new();
    private int _liveSessions;
    private bool _disposeRequested;

    private static BnModelConfig NativeConfig(ModelConfig c) => new()
    {
        VocabSize = c.VocabSize,
        HiddenSize = c.HiddenSize,
        FfnSize = c.IntermediateSize,
        NLayers = c.LayerCount,
        NHeads = c.HeadCount,
        NKvHeads = c.KeyValueHeadCount,
        MaxPositions = c.MaxPositionEmbeddings,
        RopeTheta = c.RopeTheta,
        RmsEps = c.RmsNormEpsilon,
        Activation = (int)(c.Activation == FfnActivation.ReluSquared ? BnActivation.Relu2 : BnActivation.Silu),
        Reserved = 0,
    };

    private static BnDtype NativeType(EmbeddingType t) => t switch
    {
        EmbeddingType.F32 => BnDtype.F32,
        EmbeddingType.F16 => BnDtype.F16,
        EmbeddingType.BF16 => BnDtype.Bf16,
        EmbeddingType.Q8_0 => BnDtype.Q8_0,
        EmbeddingType.Q6_K => BnDtype.Q6K,
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    private T Keep<T>(T buffer) where T : IDisposable
    {
        _buffers.Add(buffer);
        return buffer;
    }

    private unsafe void SetWeights(NativeMemoryPool pool)
    {
        BnModel m = _handle.Native;
        for (int l = 0; l < _file.Layers.Count; l++)
        {
            LayerWeights layer = _file.Layers[l];
            IReadOnlyList<TernaryTensor> projections = layer.Projections;
            for (int p = 0; p < projections.Count; p++)
            {
                TernaryTensor t = projections[p];
                ReadOnlySpan<byte> bytes;
                if (t.PackedFormat == PackedFormat.I2SX86)
                {
                    bytes = t.PackedBytes; // zero-copy: a view of the mapped file
                }
                else
                {
                    NativeBuffer<byte> converted = t.PackedFormat is { } format
                        ? format.Convert(t.PackedBytes, t.Rows, t.Cols, PackedFormat.I2SX86, t.Scale, pool)
                        : PackedFormat.I2SX86.Pack(t.GetCodes(), t.Rows, t.Cols, t.Scale, pool);
                    bytes = Keep(converted).Span;
                    ConvertedProjections++;
                }
                fixed (byte* w = bytes)
                    BitNetException.Check(NativeMethods.bn_model_set_projection(m, l, (BnProj)p, w, bytes.Length, t.Scale));
            }
            float[][] norms = [layer.InputNorm, layer.PostAttentionNorm, layer.AttentionSubNorm, layer.FfnSubNorm];
            for (int n = 0; n < norms.Length; n++)
            {
                NativeBuffer<float> copy = Keep(pool.Allocate<float>(norms[n].Length));
                norms[n].CopyTo(copy.Span);
                BitNetException.Check(NativeMethods.bn_model_set_norm(m, l, (BnNorm)n, copy.Pointer, copy.Length));
            }
        }
        NativeBuffer<float> final = Keep(pool.Allocate<float>(_file.FinalNorm.Length));
        _file.FinalNorm.CopyTo(final.Span);
        BitNetException.Check(NativeMethods.bn_model_set_final_norm(m, final.Pointer, final.Length));

        // The embedding in its stored type, referenced in the mapped file (the native matmul reads F32/F16/BF16/Q8_0/Q6_K).
        EmbeddingMatrix e = _file.Embedding;
        ReadOnlySpan<byte> table = e.Bytes;
        fixed (byte* t = table)
            BitNetException.Check(NativeMethods.bn_model_set_embedding(m, NativeType(e.Type), t, table.Length));
        BitNetException.Check(NativeMethods.bn_model_check(m));
    }
}
