using BitNet.Interop;
using BitNet.Models;

namespace BitNet.Inference;

/// <summary>
/// One conversation on a <see cref="BitNetModel"/>: a native <c>bn_context</c> with its own KV cache and scratch (from
/// the session's pool) and its own thread pool. Tokens are appended at <see cref="Position"/> by <see cref="Forward(ReadOnlySpan{int}, LogitsMode)"/>
/// and by generation. Sessions on one model are independent; one session must not be used by two threads at once.
/// </summary>
public sealed partial class InferenceSession : IDisposable
{
    private readonly ContextHandle _context;
    private readonly NativeThreadPool? _threads;
    private int _busy;

    internal InferenceSession(BitNetModel model, SessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(options.ContextSize);
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxBatch);
        int threads = options.Threads ?? SessionOptions.DefaultThreadCount;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads, nameof(options.Threads));
        Model = model;
        Threads = threads;
        int contextSize = options.ContextSize == 0 ? model.Config.MaxPositionEmbeddings : options.ContextSize;
        if (contextSize > model.Config.MaxPositionEmbeddings)
            throw new ArgumentOutOfRangeException(nameof(options), $"ContextSize {contextSize} exceeds the model's max_position_embeddings {model.Config.MaxPositionEmbeddings}");
        _threads = threads > 1 ? new NativeThreadPool(threads) : null;
        try
        {
            NativeMemoryPool pool = options.Pool ?? NativeMemoryPool.Shared;
            _context = ContextHandle.Create(model.Handle, contextSize, options.KvCacheType == KvCacheType.F16 ? BnDtype.F16 : BnDtype.F32,
                options.MaxBatch, pool.Handle, _threads?.Handle, _threads is null ? default : _threads.Handle.Native);
        }
        catch
        {
            _threads?.Dispose();
            throw;
        }
        ContextSize = contextSize;
        using (new HandleReference(_context)) MaxBatch = (int)NativeMethods.bn_context_max_batch(_context.Native);
    }

    /// <summary>The model the session runs.</summary>
    public BitNetModel Model { get; }

    /// <summary>Threads running the forward pass, the caller included.</summary>
    public int Threads { get; }

    /// <summary>Positions the KV cache holds.</summary>
    public int ContextSize { get; }

    /// <summary>The number of positions held (the next token's position).</summary>
    public int Position
    {
        get
        {
            using (new HandleReference(_context)) return (int)NativeMethods.bn_context_position(_context.Native);
        }
    }

    /// <summary>The vocabulary size (the length of one logits row).</summary>
    public int VocabSize => Model.Config.VocabSize;

    /// <summary>Runs <paramref name="tokens"/> at <see cref="Position"/> and appends them to the KV cache.</summary>
    /// <returns>(rows, vocab) logits, row-major: one row per token for <see cref="LogitsMode.All"/>, one for
    /// <see cref="LogitsMode.Last"/>, none (empty) for <see cref="LogitsMode.None"/>.</returns>
    /// <exception cref="BitNetException">The context is full (<see cref="BnStatus.ErrShape"/>; nothing changes), or a token id is outside the vocabulary.</exception>
    public float[] Forward(ReadOnlySpan<int> tokens, LogitsMode mode = LogitsMode.Last)
    {
        var logits = new float[LogitsLength(tokens.Length, mode)];
        Forward(tokens, logits, mode, default);
        return logits;
    }

    /// <summary>Runs <paramref name="tokens"/> and writes the logits into <paramref name="logits"/> and, when
    /// <paramref name="hiddenStates"/> is not empty, the hidden states (layers + 1, tokens, hidden) in the Hugging Face
    /// <c>output_hidden_states</c> order: [0] the embeddings, [i] the output of layer i-1, [layers] the final RMSNorm of
    /// the last layer's output.</summary>
    /// <exception cref="ArgumentException">A buffer is too short for the rows asked for.</exception>
    /// <exception cref="BitNetException">The context is full (<see cref="BnStatus.ErrShape"/>; nothing changes), or a token id is outside the vocabulary.</exception>
    public unsafe void Forward(ReadOnlySpan<int> tokens, Span<float> logits, LogitsMode mode, Span<float> hiddenStates)
    {
        if (tokens.IsEmpty) throw new ArgumentException("at least one token is needed", nameof(tokens));
        long need = LogitsLength(tokens.Length, mode);
        if (logits.Length < need) throw new ArgumentException($"logits holds {logits.Length} floats, {need} are needed", nameof(logits));
        long hiddenNeed = HiddenStatesLength(tokens.Length);
        if (!hiddenStates.IsEmpty && hiddenStates.Length < hiddenNeed)
            throw new ArgumentException($"hiddenStates holds {hiddenStates.Length} floats, {hiddenNeed} are needed", nameof(hiddenStates));
        using (new HandleReference(_context))
        {
            long position = NativeMethods.bn_context_position(_context.Native);
            if (position + tokens.Length > ContextSize)
                throw new BitNetException(BnStatus.ErrShape,
                    $"context full: {position} positions held + {tokens.Length} tokens > context size {ContextSize} (Reset or Truncate the session, or create it with a larger ContextSize)");
            BnLogitsMode nativeMode = mode switch
            {
                LogitsMode.None => BnLogitsMode.None,
                LogitsMode.All => BnLogitsMode.All,
                LogitsMode.Last => BnLogitsMode.Last,
                _ => throw new ArgumentOutOfRangeException(nameof(mode)),
            };
            fixed (int* t = tokens)
            fixed (float* l = logits)
            fixed (float* h = hiddenStates)
            {
                BitNetException.Check(NativeMethods.bn_context_forward(_context.Native, t, tokens.Length, need == 0 ? null : l, logits.Length,
                    nativeMode, hiddenStates.IsEmpty ? null : h, hiddenStates.Length));
            }
        }
    }

    /// <summary>Floats of logits for <paramref name="tokens"/> tokens in <paramref name="mode"/>.</summary>
    public int LogitsLength(int tokens, LogitsMode mode) => mode switch
    {
        LogitsMode.None => 0,
        LogitsMode.All => checked(tokens * VocabSize),
        _ => VocabSize,
    };

    /// <summary>Floats of hidden states for <paramref name="tokens"/> tokens: (layers + 1) * tokens * hidden.</summary>
    public int HiddenStatesLength(int tokens) => checked((Model.Config.LayerCount + 1) * tokens * Model.Config.HiddenSize);

    /// <summary>Forgets every position (position 0).</summary>
    public void Reset()
    {
        using (new HandleReference(_context)) BitNetException.Check(NativeMethods.bn_context_reset(_context.Native));
    }

    /// <summary>Keeps positions 0 .. <paramref name="position"/> - 1 (e.g. to drop a rejected continuation).</summary>
    /// <exception cref="BitNetException"><paramref name="position"/> is beyond <see cref="Position"/>.</exception>
    public void Truncate(int position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        using (new HandleReference(_context)) BitNetException.Check(NativeMethods.bn_context_truncate(_context.Native, position));
    }

    /// <summary>Frees the KV cache and scratch and stops the session's threads.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _context.Dispose();
        _threads?.Dispose();
        Model.SessionClosed();
    }

    private int _disposed;

    private void Enter()
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0)
            throw new InvalidOperationException("the session is already generating; one session serves one caller at a time");
    }

    private void Exit() => Volatile.Write(ref _busy, 0);
}
