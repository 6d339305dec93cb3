using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using BitNet.Inference.Sampling;
using BitNet.Tokenization;

namespace BitNet.Inference;

public sealed partial class InferenceSession
{
    /// <summary>The result of the last generation that ended (completed, stopped or cancelled), or null.</summary>
    public GenerationResult? LastResult { get; private set; }

    /// <summary>Tokenizes <paramref name="prompt"/> (BOS and special tokens per <paramref name="options"/>) and streams
    /// its continuation; see <see cref="GenerateAsync(IReadOnlyList{int}, GenerationOptions?, CancellationToken)"/>.</summary>
    /// <exception cref="InvalidOperationException">The model has no tokenizer.</exception>
    public IAsyncEnumerable<string> GenerateAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        options ??= GenerationOptions.Default;
        BpeTokenizer tokenizer = RequireTokenizer();
        int[] ids = tokenizer.Encode(prompt, new EncodeOptions { AddBos = options.AddBos && tokenizer.BosId is not null, ParseSpecial = options.ParseSpecial });
        return GenerateAsync(ids, options, cancellationToken);
    }

    /// <summary>
    /// Appends <paramref name="promptIds"/> at <see cref="Position"/> (after what the session already holds, so a
    /// conversation continues) and streams the decoded text of each generated token as it is sampled (pieces that
    /// complete no character are held back). Ends at <see cref="GenerationOptions.MaxTokens"/>, a stop token, a stop
    /// string or a full context (ids past the tokenizer's vocabulary, i.e. padding rows of the embedding, are never
    /// sampled); then <see cref="LastResult"/> holds the ids, text and timings, and the KV cache holds
    /// the prompt and every generated token, so the next call continues from there.
    /// If <paramref name="cancellationToken"/> fires (the stream throws <see cref="OperationCanceledException"/>) or
    /// the caller stops enumerating early, the session is truncated back to the position it had when the call began:
    /// the prompt and partial continuation are forgotten and the session is ready for the next call.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model has no tokenizer, or the session is already generating.</exception>
    /// <exception cref="BitNetException">The prompt does not fit in the context.</exception>
    public async IAsyncEnumerable<string> GenerateAsync(IReadOnlyList<int> promptIds, GenerationOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        options ??= GenerationOptions.Default;
        if (promptIds.Count == 0) throw new ArgumentException("the prompt has no tokens", nameof(promptIds));
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxTokens);
        BpeTokenizer tokenizer = RequireTokenizer();
        Enter();
        int start = Position;
        bool completed = false;
        var sampler = new Sampler(options);
        var history = new List<int>(promptIds);
        var generated = new List<int>();
        var text = new StringBuilder();
        var stops = new HashSet<int>(options.StopTokenIds);
        if (options.StopAtStopTokens) stops.UnionWith(tokenizer.StopTokenIds);
        var decoder = tokenizer.CreateStreamDecoder(skipSpecial: false);
        var pending = new StringBuilder();
        StopReason reason = StopReason.None;
        TimeSpan prefill = TimeSpan.Zero, decode = TimeSpan.Zero;
        int decodeSteps = 0;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (options.MaxTokens == 0)
            {
                reason = StopReason.MaxTokens;
                completed = true;
                yield break;
            }
            int[] prompt = [.. promptIds];
            await Task.Yield(); // the caller gets its task back before the prefill runs
            var clock = Stopwatch.StartNew();
            float[] logits = Forward(prompt, LogitsMode.Last);
            prefill = clock.Elapsed;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                // rows past the tokenizer's vocabulary (padding of the embedding) are never picked
                int token = sampler.Sample(logits.AsSpan(0, Math.Min(logits.Length, tokenizer.VocabSize)), System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history));
                generated.Add(token);
                history.Add(token);
                bool isStop = stops.Contains(token);
                string? emit = null;
                if (!isStop)
                {
                    pending.Append(decoder.Append(token));
                    emit = TakeEmittable(pending, options.StopStrings, out bool hitStop);
                    if (hitStop) reason = StopReason.StopString;
                }
                else reason = StopReason.StopToken;

                if (reason == StopReason.None && generated.Count >= options.MaxTokens) reason = StopReason.MaxTokens;
                if (reason == StopReason.None && Position + 1 > ContextSize) reason = StopReason.ContextFull;

                // the KV cache keeps every generated token, the last one included (a following call continues after it)
                if (Position < ContextSize)
                {
                    clock.Restart();
                    logits = Forward([token], reason == StopReason.None ? LogitsMode.Last : LogitsMode.None);
                    decode += clock.Elapsed;
                    decodeSteps++;
                }
                if (reason != StopReason.None)
                {
                    if (reason is StopReason.MaxTokens or StopReason.ContextFull or StopReason.StopToken)
                    {
                        pending.Append(decoder.Flush());
                        emit = (emit ?? string.Empty) + TakeEmittable(pending, options.StopStrings, out bool hit, final: true);
                        if (hit) reason = StopReason.StopString;
                    }
                    if (!string.IsNullOrEmpty(emit))
                    {
                        text.Append(emit);
                        completed = true;
                        yield return emit;
                    }
                    completed = true;
                    yield break;
                }
                if (!string.IsNullOrEmpty(emit))
                {
                    text.Append(emit);
                    yield return emit;
                }
            }
        }
        finally
        {
            if (!completed)
            {
                reason = StopReason.Cancelled;
                try
                {
                    if (Position > start) Truncate(start);
                }
                catch (ObjectDisposedException)
                {
                }
            }
            LastResult = new GenerationResult
            {
                PromptTokens = promptIds.Count,
                TokenIds = generated,
                Text = text.ToString(),
                StopReason = reason,
                Seed = sampler.Seed,
                PrefillTime = prefill,
                DecodeTime = decode,
                DecodeSteps = decodeSteps,
            };
            Exit();
        }
    }

    private BpeTokenizer RequireTokenizer() =>
        Model.Tokenizer ?? throw new InvalidOperationException($"the model at {Model.File.Path} has no tokenizer; generation needs one");

    // Takes what can be shown from `pending`: everything before the first stop string (hit = true), or everything but
    // the longest tail that could still become a stop string (all of it when final).
    private static string TakeEmittable(StringBuilder pending, IReadOnlyList<string> stopStrings, out bool hit, bool final = false)
    {
        hit = false;
        string s = pending.ToString();
        if (stopStrings.Count == 0)
        {
            pending.Clear();
            return s;
        }
        int cut = -1;
        foreach (string stop in stopStrings)
        {
            if (stop.Length == 0) continue;
            int at = s.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0)
        {
            hit = true;
            pending.Clear();
            return s[..cut];
        }
        int hold = 0;
        if (!final)
            foreach (string stop in stopStrings)
                for (int len = Math.Min(stop.Length - 1, s.Length); len > hold; len--)
                    if (s.AsSpan(s.Length - len).SequenceEqual(stop.AsSpan(0, len)))
                    {
                        hold = len;
                        break;
                    }
        pending.Clear();
        pending.Append(s, s.Length - hold, hold);
        return s[..^hold];
    }
}
