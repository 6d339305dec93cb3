namespace BitNet.Inference;

/// <summary>How <see cref="Perplexity.Evaluate"/> cuts and runs a token stream.</summary>
public sealed record PerplexityOptions
{
    /// <summary>Tokens per window (0: the smaller of 512 and the model's <c>max_position_embeddings</c>).</summary>
    public int SequenceLength { get; init; }

    /// <summary>Windows evaluated at once, each in its own session (the threads are shared out among them).</summary>
    public int Batch { get; init; } = 1;

    /// <summary>Threads in all (null: <see cref="SessionOptions.DefaultThreadCount"/>).</summary>
    public int? Threads { get; init; }

    /// <summary>Called with (windows done, windows in all) after each window, from any thread.</summary>
    public Action<int, int>? Progress { get; init; }
}

/// <summary>The mean next-token cross-entropy of a token stream and its exponential.</summary>
/// <param name="Loss">Mean of −log p(target) in nats over every scored target.</param>
/// <param name="Tokens">Targets scored (the stream's length minus one).</param>
/// <param name="Windows">Windows the stream was cut into.</param>
/// <param name="SequenceLength">Tokens per window.</param>
public sealed record PerplexityResult(double Loss, long Tokens, int Windows, int SequenceLength)
{
    /// <summary>exp(<see cref="Loss"/>).</summary>
    public double Value => Math.Exp(Loss);
}

/// <summary>
/// Perplexity with the inference engine: the stream is cut into windows of L tokens with stride L (window k feeds
/// tokens kL .. kL+L-1 and scores their successors kL+1 .. kL+L, so every token but the first is a target exactly once);
/// each window starts from an empty KV cache. Per target, −log softmax(logits)[target] is summed in double; the result
/// does not depend on <see cref="PerplexityOptions.Batch"/> or the thread count.
/// </summary>
public static class Perplexity
{
    /// <summary>Logit rows computed per forward call (bounds the logits buffer at rows × vocab floats).</summary>
    private const int RowsPerCall = 64;

    /// <summary>Evaluates <paramref name="tokens"/> (as given: put a BOS first if the model expects one).</summary>
    /// <exception cref="ArgumentException">Fewer than two tokens, a token outside the vocabulary, or options out of range.</exception>
    public static PerplexityResult Evaluate(BitNetModel model, ReadOnlySpan<int> tokens, PerplexityOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new PerplexityOptions();
        int vocab = model.Config.VocabSize;
        int context = model.Config.MaxPositionEmbeddings;
        int l = options.SequenceLength == 0 ? Math.Min(512, context) : options.SequenceLength;
        if (l < 1 || l > context)
            throw new ArgumentException($"the sequence length {l} must be between 1 and the model's context of {context}", nameof(options));
        if (options.Batch < 1) throw new ArgumentException($"the batch must be at least 1 (got {options.Batch})", nameof(options));
        int threads = options.Threads ?? SessionOptions.DefaultThreadCount;
        if (threads < 1) throw new ArgumentException($"threads must be at least 1 (got {threads})", nameof(options));
        if (tokens.Length < 2) throw new ArgumentException($"at least two tokens are needed (got {tokens.Length})", nameof(tokens));
        for (int i = 0; i < tokens.Length; i++)
            if ((uint)tokens[i] >= (uint)vocab)
                throw new ArgumentException($"token {tokens[i]} at position {i} is outside the model's vocabulary of {vocab}", nameof(tokens));

        int[] stream = tokens.ToArray();
        int targets = stream.Length - 1;
        int windows = (targets + l - 1) / l;
        var sums = new double[windows];
        int workers = Math.Min(options.Batch, windows);
        int done = 0;
        // Worker w takes windows w, w + workers, ...: the per-window sums are added in window order afterwards.
        void Worker(int w)
        {
            using var session = model.CreateSession(new SessionOptions
            {
                ContextSize = l,
                Threads = Math.Max(1, threads / workers),
                MaxBatch = Math.Min(l, RowsPerCall),
            });
            var logits = new float[Math.Min(l, RowsPerCall) * vocab];
            for (int k = w; k < windows; k += workers)
            {
                session.Reset();
                int start = k * l;
                int n = Math.Min(l, targets - start);
                double sum = 0;
                for (int c = 0; c < n; c += RowsPerCall)
                {
                    int rows = Math.Min(RowsPerCall, n - c);
                    session.Forward(stream.AsSpan(start + c, rows), logits, LogitsMode.All, default);
                    for (int r = 0; r < rows; r++)
                        sum += NegativeLogLikelihood(logits.AsSpan(r * vocab, vocab), stream[start + c + r + 1]);
                }
                sums[k] = sum;
                options.Progress?.Invoke(Interlocked.Increment(ref done), windows);
            }
        }
        if (workers == 1) Worker(0);
        else
        {
            try
            {
                Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, Worker);
            }
            catch (AggregateException e)
            {
                // the first worker's failure, as the one-worker path would throw it
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            }
        }
        double total = 0;
        foreach (double s in sums) total += s;
        return new PerplexityResult(total / targets, targets, windows, l);
    }

    /// <summary>−log softmax(<paramref name="logits"/>)[<paramref name="target"/>] = logsumexp(logits) − logits[target],
    /// with the maximum subtracted first.</summary>
    public static double NegativeLogLikelihood(ReadOnlySpan<float> logits, int target)
    {
        float max = float.NegativeInfinity;
        foreach (float x in logits) max = Math.Max(max, x);
        double sum = 0;
        foreach (float x in logits) sum += Math.Exp(x - max);
        return Math.Log(sum) + max - logits[target];
    }
}
