using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using BitNet.Inference.Sampling;
using BitNet.Interop;
using BitNet.Tokenization;

namespace BitNet.Inference;

public sealed partial class InferenceSession
{
    /// <summary>
    /// Runs several sessions of one model in a single native pass (<c>bn_context_forward_batch</c>): session i gets
    /// <paramref name="tokens"/>[i] at its own <see cref="Position"/>. Every weight is streamed once for all of them,
    /// so decoding n sequences together costs about one sequence's memory traffic. Each session's logits equal those
    /// of <see cref="Forward(ReadOnlySpan{int}, Span{float}, LogitsMode, Span{float})"/> on it alone.
    /// </summary>
    /// <param name="sessions">Distinct sessions on the same model; the first one's scratch, threads and
    /// <see cref="SessionOptions.MaxBatch"/> serve the pass, so the total token count must fit its batch.</param>
    /// <param name="tokens">One non-empty token list per session.</param>
    /// <param name="logits">For <see cref="LogitsMode.All"/>: (total tokens, vocab) in session order; for
    /// <see cref="LogitsMode.Last"/>: (sessions, vocab), each session's last token; nothing for <see cref="LogitsMode.None"/>.</param>
    /// <param name="mode">Which rows of logits to compute.</param>
    /// <exception cref="ArgumentException">Counts or buffers disagree, a session repeats, or sessions run different models.</exception>
    /// <exception cref="BitNetException">A context is full or the batch exceeds the first session's MaxBatch (nothing changes).</exception>
    public static unsafe void ForwardBatch(IReadOnlyList<InferenceSession> sessions, IReadOnlyList<int[]> tokens, Span<float> logits, LogitsMode mode)
    {
        ArgumentNullException.ThrowIfNull(sessions);
        ArgumentNullException.ThrowIfNull(tokens);
        if (sessions.Count == 0) throw new ArgumentException("at least one session is needed", nameof(sessions));
        if (tokens.Count != sessions.Count)
            throw new ArgumentException($"{tokens.Count} token lists for {sessions.Count} sessions", nameof(tokens));
        BitNetModel model = sessions[0].Model;
        int total = 0;
        for (int i = 0; i < sessions.Count; i++)
        {
            ArgumentNullException.ThrowIfNull(sessions[i]);
            if (!ReferenceEquals(sessions[i].Model, model))
                throw new ArgumentException($"session {i} runs another model than session 0", nameof(sessions));
            if (tokens[i] is null || tokens[i].Length == 0)
                throw new ArgumentException($"session {i} has no tokens", nameof(tokens));
            total = checked(total + tokens[i].Length);
        }
        int vocab = model.Config.VocabSize;
        long need = mode switch
        {
            LogitsMode.None => 0,
            LogitsMode.All => (long)total * vocab,
            LogitsMode.Last => (long)sessions.Count * vocab,
            _ => throw new ArgumentOutOfRangeException(nameof(mode)),
        };
        if (logits.Length < need) throw new ArgumentException($"logits holds {logits.Length} floats, {need} are needed", nameof(logits));
        BnLogitsMode nativeMode = mode switch
        {
            LogitsMode.None => BnLogitsMode.None,
            LogitsMode.All => BnLogitsMode.All,
            _ => BnLogitsMode.Last,
        };

        var flat = new int[total];
        var counts = new long[sessions.Count];
        var contexts = new BnContext[sessions.Count];
        int at = 0;
        int added = 0;
        try
        {
            for (int i = 0; i < sessions.Count; i++)
            {
                bool ok = false;
                sessions[i]._context.DangerousAddRef(ref ok);
                added++;
                contexts[i] = sessions[i]._context.Native;
                tokens[i].CopyTo(flat, at);
                at += tokens[i].Length;
                counts[i] = tokens[i].Length;
            }
            fixed (BnContext* c = contexts)
            fixed (int* t = flat)
            fixed (long* n = counts)
            fixed (float* l = logits)
            {
                BitNetException.Check(NativeMethods.bn_context_forward_batch(c, sessions.Count, t, n, need == 0 ? null : l, logits.Length, nativeMode));
            }
        }
        finally
        {
            for (int i = 0; i < added; i++) sessions[i]._context.DangerousRelease();
        }
    }

    /// <summary>
    /// Generates a continuation for each prompt at once: session i continues <paramref name="prompts"/>[i] from its
    /// own position. Prompts are prefilled together when they fit the first session's batch (else one by one); every
    /// decode step then runs all unfinished sequences in one pass (<see cref="ForwardBatch"/>). Sampling, stop tokens
    /// and stop strings apply per sequence, each with its own sampler (seed + i when <see cref="GenerationOptions.Seed"/>
    /// is set). Cancellation truncates every session back to where it started.
    /// </summary>
    /// <returns>One result per session, with its text, ids and timings (the shared prefill and decode time).</returns>
    /// <exception cref="InvalidOperationException">The model has no tokenizer, or a session is already generating.</exception>
    public static async Task<IReadOnlyList<GenerationResult>> GenerateBatchAsync(IReadOnlyList<InferenceSession> sessions, IReadOnlyList<string> prompts,
        GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sessions);
        ArgumentNullException.ThrowIfNull(prompts);
        if (sessions.Count == 0 || prompts.Count != sessions.Count)
            throw new ArgumentException($"{prompts.Count} prompts for {sessions.Count} sessions: give one prompt per session", nameof(prompts));
        options ??= GenerationOptions.Default;
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxTokens);
        BpeTokenizer tokenizer = sessions[0].RequireTokenizer();
        int n = sessions.Count;
        var ids = new int[n][];
        for (int i = 0; i < n; i++)
        {
            ids[i] = tokenizer.Encode(prompts[i], new EncodeOptions { AddBos = options.AddBos && tokenizer.BosId is not null, ParseSpecial = options.ParseSpecial });
            if (ids[i].Length == 0) throw new ArgumentException($"prompt {i} has no tokens", nameof(prompts));
        }

        int entered = 0;
        var starts = new int[n];
        bool completed = false;
        var seqs = new BatchSequence[n];
        TimeSpan prefill = TimeSpan.Zero, decode = TimeSpan.Zero;
        int decodeSteps = 0;
        try
        {
            for (; entered < n; entered++) sessions[entered].Enter();
            for (int i = 0; i < n; i++)
            {
                starts[i] = sessions[i].Position;
                var o = options.Seed is ulong seed ? options with { Seed = seed + (ulong)i } : options;
                seqs[i] = new BatchSequence(o, tokenizer, ids[i]);
            }
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            int vocab = sessions[0].VocabSize;
            int sampleWidth = Math.Min(vocab, tokenizer.VocabSize);
            var logits = new float[n * vocab];
            var clock = Stopwatch.StartNew();
            int total = ids.Sum(p => p.Length);
            if (total <= sessions[0].MaxBatch)
                ForwardBatch(sessions, ids, logits, LogitsMode.Last);
            else
                for (int i = 0; i < n; i++)
                    sessions[i].Forward(ids[i], logits.AsSpan(i * vocab, vocab), LogitsMode.Last, default);
            prefill = clock.Elapsed;

            var active = Enumerable.Range(0, n).Where(_ => options.MaxTokens > 0).ToList();
            foreach (var s in seqs)
                if (options.MaxTokens == 0) s.Reason = StopReason.MaxTokens;
            var rowOf = Enumerable.Range(0, n).ToArray(); // sequence -> its row in the last logits
            while (active.Count > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var next = new List<int>(active.Count);
                var nextTokens = new List<int[]>(active.Count);
                var nextSessions = new List<InferenceSession>(active.Count);
                var nextIndex = new List<int>(active.Count);
                foreach (int i in active)
                {
                    int token = seqs[i].Step(logits.AsSpan(rowOf[i] * vocab, sampleWidth));
                    InferenceSession session = sessions[i];
                    if (seqs[i].Reason == StopReason.None && session.Position + 1 > session.ContextSize) seqs[i].Reason = StopReason.ContextFull;
                    // the cache keeps every generated token, as single-sequence generation does
                    if (session.Position < session.ContextSize)
                    {
                        nextTokens.Add([token]);
                        nextSessions.Add(session);
                        nextIndex.Add(i);
                    }
                    if (seqs[i].Reason == StopReason.None) next.Add(i);
                    else seqs[i].Finish();
                }
                if (nextSessions.Count > 0)
                {
                    clock.Restart();
                    ForwardBatch(nextSessions, nextTokens, logits, next.Count > 0 ? LogitsMode.Last : LogitsMode.None);
                    decode += clock.Elapsed;
                    decodeSteps++;
                    for (int r = 0; r < nextIndex.Count; r++) rowOf[nextIndex[r]] = r;
                }
                active = next;
            }
            completed = true;
        }
        finally
        {
            if (!completed)
                for (int i = 0; i < entered; i++)
                {
                    if (seqs[i] is { } s) s.Reason = StopReason.Cancelled;
                    try
                    {
                        if (sessions[i].Position > starts[i]) sessions[i].Truncate(starts[i]);
                    }
                    catch (ObjectDisposedException)
                    {
                    }
                }
            for (int i = 0; i < entered; i++) sessions[i].Exit();
        }
        var results = new GenerationResult[n];
        for (int i = 0; i < n; i++)
        {
            results[i] = seqs[i].Result(ids[i].Length, prefill, decode, decodeSteps);
            sessions[i].LastResult = results[i];
        }
        return results;
    }

    /// <summary>Tokens per pass of this session, as its native context holds it (<see cref="SessionOptions.MaxBatch"/> or
    /// the library's default, capped by the context).</summary>
    public int MaxBatch { get; }

    // One sequence of a batched generation: its sampler, history, stop handling and text.
    private sealed class BatchSequence(GenerationOptions options, BpeTokenizer tokenizer, int[] prompt)
    {
        private readonly Sampler _sampler = new(options);
        private readonly List<int> _history = [.. prompt];
        private readonly List<int> _generated = [];
        private readonly StringBuilder _text = new();
        private readonly StringBuilder _pending = new();
        private readonly TokenStreamDecoder _decoder = tokenizer.CreateStreamDecoder(skipSpecial: false);
        private readonly HashSet<int> _stops = options.StopAtStopTokens ? [.. options.StopTokenIds, .. tokenizer.StopTokenIds] : [.. options.StopTokenIds];

        public StopReason Reason { get; set; }

        public int Step(ReadOnlySpan<float> logits)
        {
            int token = _sampler.Sample(logits, CollectionsMarshal.AsSpan(_history));
            _generated.Add(token);
            _history.Add(token);
            if (_stops.Contains(token))
            {
                Reason = StopReason.StopToken;
                return token;
            }
            _pending.Append(_decoder.Append(token));
            _text.Append(TakeEmittable(_pending, options.StopStrings, out bool hit));
            if (hit) Reason = StopReason.StopString;
            else if (_generated.Count >= options.MaxTokens) Reason = StopReason.MaxTokens;
            return token;
        }

        public void Finish()
        {
            if (Reason is StopReason.StopString or StopReason.Cancelled) return;
            _pending.Append(_decoder.Flush());
            _text.Append(TakeEmittable(_pending, options.StopStrings, out bool hit, final: true));
            if (hit) Reason = StopReason.StopString;
        }

        public GenerationResult Result(int promptTokens, TimeSpan prefill, TimeSpan decode, int decodeSteps) => new()
        {
            PromptTokens = promptTokens,
            TokenIds = _generated,
            Text = _text.ToString(),
            StopReason = Reason,
            Seed = _sampler.Seed,
            PrefillTime = prefill,
            DecodeTime = decode,
            DecodeSteps = decodeSteps,
        };
    }
}
