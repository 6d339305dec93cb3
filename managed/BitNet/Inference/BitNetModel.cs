using BitNet.Interop;
using BitNet.Models;
using BitNet.Quantization;
using BitNet.Tokenization;

namespace BitNet.Inference;

/// <summary>
/// A BitNet b1.58 model ready to run: the native <c>bn_model</c> over the weights of a <see cref="BitNetModelFile"/>.
/// Projections stored as I2_S x86 or TQ1_0 and embeddings in any stored type (F32, F16, BF16, Q8_0, Q6_K) are
/// referenced in the memory-mapped file, not copied; other packings (HF 2B4T, TQ2_0, I2_S ARM) and master weights are
/// converted once into pooled I2_S x86 buffers that the model keeps. The file stays open (mapped) until
/// <see cref="Dispose"/>; sessions (<see cref="CreateSession"/>) keep the native model alive until they are disposed too.
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

    /// <summary>How many projections were converted to I2_S x86 at load (0 when the file stores I2_S x86 or TQ1_0).</summary>
    public int ConvertedProjections { get; private set; }

    /// <summary>How many projections run straight from the memory-mapped file, not copied: those stored as TQ1_0, and
    /// those stored as I2_S x86 where the kernels prefer that row order or <see cref="ModelOptions.InterleaveRows"/> is
    /// off (the native kernels read both layouts as stored).</summary>
    public int MappedProjections { get; private set; }

    /// <summary>Projections whose rows were interleaved for this CPU's kernels at load (BnTlayout.I2sX4): the converted
    /// ones, and the I2_S x86 ones copied out of the mapping for it (<see cref="ModelOptions.InterleaveRows"/>).</summary>
    public int InterleavedProjections { get; private set; }

    internal ModelHandle Handle => _handle;

    /// <summary>Opens <paramref name="path"/> (a Hugging Face folder or a GGUF file, CLI.md "Models") and builds the
    /// native model.</summary>
    /// <exception cref="FileNotFoundException">Nothing at <paramref name="path"/>.</exception>
    /// <exception cref="ModelFormatException">The files are incomplete or inconsistent.</exception>
    /// <exception cref="BitNetException">The native library refused a shape or weight (its status and message).</exception>
    /// <remarks>A GGUF file with I2_S projections does not say which of bitnet.cpp's layouts (x86 or ARM) it is in: unless
    /// <see cref="ModelLoadOptions.I2SLayout"/> says, the model is built in both and the one that predicts a probe text
    /// clearly better is kept (<see cref="I2SLayout"/> tells which, and why).</remarks>
    public static BitNetModel Load(string path, ModelOptions? options = null)
    {
        options ??= ModelOptions.Default;
        BitNetModelFile file = BitNetModelFile.Open(path, options.FileOptions);
        // Parsing a large vocabulary (Llama-3's 128256 tokens and 280k merges) leaves ~170 MB of short-lived garbage
        // in the GC heap; committed, it would count on top of the weights for the rest of the process's life
        // (~32 MB of resident memory). Return it to the OS before the weights become resident.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        if (file.I2SLayoutAssumed) return I2SLayoutProbe.Load(file, path, options, f => Build(f, options));
        BitNetModel model = Build(file, options);
        if (file.I2SLayout is { } given)
            model.I2SLayout = new I2SLayoutDecision(given, I2SLayoutSource.Given, null, null, $"I2_S layout: {(given == PackedFormat.I2SX86 ? "x86" : "ARM")} (given)");
        return model;
    }

    /// <summary>How the layout of the file's I2_S projections was settled; null when it has none.</summary>
    public I2SLayoutDecision? I2SLayout { get; internal set; }

    // the native model over file's weights; file is owned by the result, or disposed when this throws
    private static BitNetModel Build(BitNetModelFile file, ModelOptions options)
    {
        BitNetModel? model = null;
        try
        {
            ModelHandle handle = ModelHandle.Create(file.Config.ToNative());
            model = new BitNetModel(file, handle);
            model.SetWeights(options.Pool ?? NativeMemoryPool.Shared, options.InterleaveRows);
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


    private static BnDtype NativeType(EmbeddingType t) => t switch
    {
        EmbeddingType.F32 => BnDtype.F32,
        EmbeddingType.F16 => BnDtype.F16,
        EmbeddingType.BF16 => BnDtype.Bf16,
        EmbeddingType.Q8_0 => BnDtype.Q8_0,
        EmbeddingType.Q6_K => BnDtype.Q6K,
        EmbeddingType.Q4_K => BnDtype.Q4K,
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    // The converted copy is what the forward pass reads: the mapped original's pages leave the resident set, so peak
    // memory is the copy, not copy + original (they fault back in from the file if anything reads them again).
    private static unsafe void ReleaseMapped(ReadOnlySpan<byte> mapped)
    {
        if (mapped.IsEmpty) return;
        fixed (byte* p = mapped) NativeMethods.bn_mapping_release(p, (nuint)mapped.Length);
    }

    // Rewrites an I2_S copy in place into the layout the native kernels prefer for its shape (Preferred: I2S_X4 on x86,
    // groups of 4 rows interleaved so that a GEMV reads its weights in address order) and returns that layout.
    private unsafe BnTlayout Interleave(NativeBuffer<byte> i2s, long rows, long cols, BnTlayout preferred)
    {
        if (preferred == BnTlayout.I2s) return BnTlayout.I2s;
        fixed (byte* w = i2s.Span)
            BitNetException.Check(NativeMethods.bn_tmatmul_relayout(BnTlayout.I2s, preferred, w, rows, cols));
        InterleavedProjections++;
        return preferred;
    }

    private static unsafe BnTlayout Preferred(long rows, long cols)
    {
        BnTlayout preferred;
        BitNetException.Check(NativeMethods.bn_tmatmul_preferred_layout(rows, cols, &preferred));
        return preferred;
    }

    private T Keep<T>(T buffer) where T : IDisposable
    {
        _buffers.Add(buffer);
        return buffer;
    }

    private unsafe void SetWeights(NativeMemoryPool pool, bool interleave)
    {
        BnModel m = _handle.Native;
        var inPlace = new List<(nint Address, long Length)>(); // the mapped bytes the native model reads in place
        for (int l = 0; l < _file.Layers.Count; l++)
        {
            LayerWeights layer = _file.Layers[l];
            IReadOnlyList<TernaryTensor> projections = layer.Projections;
            for (int p = 0; p < projections.Count; p++)
            {
                TernaryTensor t = projections[p];
                ReadOnlySpan<byte> bytes;
                BnTlayout layout = BnTlayout.I2s, preferred = Preferred(t.Rows, t.Cols);
                if (t.PackedFormat == PackedFormat.I2SX86 && interleave && preferred != BnTlayout.I2s)
                {
                    // the file's row order streams slower than the kernels' preferred one: a copy in that order, and
                    // the mapped pages let go (the same resident bytes)
                    NativeBuffer<byte> copy = Keep(pool.Allocate<byte>(t.PackedBytes.Length));
                    t.PackedBytes.CopyTo(copy.Span);
                    ReleaseMapped(t.PackedBytes);
                    bytes = copy.Span;
                    layout = Interleave(copy, t.Rows, t.Cols, preferred);
                }
                else if (t.PackedFormat == PackedFormat.I2SX86)
                {
                    bytes = t.PackedBytes; // zero-copy: a view of the mapped file
                    MappedProjections++;
                }
                else if (t.PackedFormat == PackedFormat.Tq1_0)
                {
                    // zero-copy too: the kernels read ggml's TQ1_0 blocks as stored (their d unread), so the pages stay
                    // mapped. t.Scale checks that every block with a nonzero code carries the same d, reading in place.
                    bytes = t.PackedBytes;
                    layout = BnTlayout.Tq1;
                    MappedProjections++;
                }
                else
                {
                    // one pass over the stored bytes that also checks them (a TQ tensor's block d) and settles t.Scale
                    NativeBuffer<byte> converted = Keep(t.ConvertTo(PackedFormat.I2SX86, pool));
                    bytes = converted.Span;
                    ConvertedProjections++;
                    ReleaseMapped(t.PackedBytes);
                    // our own copy, so it can take the row order this CPU's kernels stream fastest (same results)
                    layout = Interleave(converted, t.Rows, t.Cols, preferred);
                }
                fixed (byte* w = bytes)
                {
                    inPlace.Add(((nint)w, bytes.Length));
                    BitNetException.Check(NativeMethods.bn_model_set_projection_layout(m, l, (BnProj)p, layout, w, bytes.Length, t.Scale));
                }
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
        {
            inPlace.Add(((nint)t, table.Length));
            BitNetException.Check(NativeMethods.bn_model_set_embedding(m, NativeType(e.Type), t, table.Length));
        }
        // An untied head (lm_head.weight / output.weight), likewise referenced in the mapped file.
        if (_file.LmHead is { } head)
        {
            ReadOnlySpan<byte> headBytes = head.Bytes;
            fixed (byte* h = headBytes)
            {
                inPlace.Add(((nint)h, headBytes.Length));
                BitNetException.Check(NativeMethods.bn_model_set_lm_head(m, NativeType(head.Type), h, headBytes.Length));
            }
        }
        BitNetException.Check(NativeMethods.bn_model_check(m));
        // Everything else the load read from the mapping (tokenizer arrays, norms, converted originals, the pages
        // faulted in around them) leaves the resident set; pool copies are not in the mapping and are unaffected.
        _file.ReleasePagesOutside(inPlace);
    }
}
