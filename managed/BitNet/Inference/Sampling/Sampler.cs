namespace BitNet.Inference.Sampling;

/// <summary>Picks the next token from a row of logits per <see cref="GenerationOptions"/>, with its own seeded
/// <see cref="Xoshiro256StarStar"/>; equal options, seed, logits and history give equal picks.</summary>
public sealed class Sampler
{
    private readonly GenerationOptions _options;
    private readonly Xoshiro256StarStar _rng;
    private float[] _work = [];
    private int[] _order = [];
    private readonly Dictionary<int, int> _counts = new();

    /// <summary>A sampler for <paramref name="options"/>, seeded with <see cref="GenerationOptions.Seed"/> (or randomly).</summary>
    public Sampler(GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        Seed = options.Seed ?? (ulong)Random.Shared.NextInt64();
        _rng = new Xoshiro256StarStar(Seed);
    }

    /// <summary>The seed in use.</summary>
    public ulong Seed { get; }

    /// <summary>The index of the largest logit (the first one on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty) throw new ArgumentException("no logits", nameof(logits));
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }

    /// <summary>Picks a token from <paramref name="logits"/> (one row, vocab long); <paramref name="history"/> is every
    /// token so far (prompt and generated), for the penalties.</summary>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        int n = logits.Length;
        if (n == 0) throw new ArgumentException("no logits", nameof(logits));
        if (_work.Length != n)
        {
            _work = new float[n];
            _order = new int[n];
        }
        Span<float> x = _work;
        logits.CopyTo(x);
        ApplyPenalties(x, history);
        if (_options.IsGreedy) return ArgMax(x);

        // candidates in descending logit order (ties: lower id first), the top k only
        int k = _options.TopK > 0 ? Math.Min(_options.TopK, n) : n;
        int count = SelectTop(x, k);
        Span<int> cand = _order.AsSpan(0, count);

        // softmax with temperature over the candidates
        float t = _options.Temperature;
        double max = x[cand[0]];
        var probs = new double[count];
        double sum = 0;
        for (int i = 0; i < count; i++)
        {
            probs[i] = Math.Exp((x[cand[i]] - max) / t);
            sum += probs[i];
        }
        for (int i = 0; i < count; i++) probs[i] /= sum;

        // top-p: the shortest prefix whose mass reaches p
        int keep = count;
        if (_options.TopP < 1f)
        {
            double acc = 0;
            for (int i = 0; i < count; i++)
            {
                acc += probs[i];
                if (acc >= _options.TopP)
                {
                    keep = i + 1;
                    break;
                }
            }
        }
        // min-p: at least min_p times the top probability
        if (_options.MinP > 0f)
        {
            double floor = _options.MinP * probs[0];
            int m = 1;
            while (m < keep && probs[m] >= floor) m++;
            keep = m;
        }

        double total = 0;
        for (int i = 0; i < keep; i++) total += probs[i];
        double u = _rng.NextDouble() * total;
        double run = 0;
        for (int i = 0; i < keep; i++)
        {
            run += probs[i];
            if (u < run) return cand[i];
        }
        return cand[keep - 1];
    }

    private void ApplyPenalties(Span<float> x, ReadOnlySpan<int> history)
    {
        var o = _options;
        if (o.RepetitionPenalty == 1f && o.PresencePenalty == 0f && o.FrequencyPenalty == 0f) return;
        if (o.PenaltyLastN == 0 || history.IsEmpty) return;
        ReadOnlySpan<int> recent = o.PenaltyLastN < 0 || o.PenaltyLastN >= history.Length ? history : history[^o.PenaltyLastN..];
        _counts.Clear();
        foreach (int id in recent)
            if ((uint)id < (uint)x.Length) _counts[id] = _counts.GetValueOrDefault(id) + 1;
        foreach ((int id, int c) in _counts)
        {
            float v = x[id];
            if (o.RepetitionPenalty != 1f) v = v > 0 ? v / o.RepetitionPenalty : v * o.RepetitionPenalty;
            v -= o.PresencePenalty + c * o.FrequencyPenalty;
            x[id] = v;
        }
    }

    // Writes the ids of the k largest values of x, in descending order (ties: lower id first), to _order[0..k).
    private int SelectTop(ReadOnlySpan<float> x, int k)
    {
        int n = x.Length;
        if (k >= n / 2)
        {
            for (int i = 0; i < n; i++) _order[i] = i;
            float[] keys = _work;
            Array.Sort(_order, 0, n, Comparer<int>.Create((a, b) => keys[b].CompareTo(keys[a]) is int c && c != 0 ? c : a.CompareTo(b)));
            return k;
        }
        // a min-heap of the best k: the root is the worst kept (smallest value, then largest id)
        var heap = new PriorityQueue<int, (float Value, int Id)>(k + 1, Comparer<(float Value, int Id)>.Create(
            (a, b) => a.Value != b.Value ? a.Value.CompareTo(b.Value) : b.Id.CompareTo(a.Id)));
        for (int i = 0; i < n; i++)
        {
            if (heap.Count < k) heap.Enqueue(i, (x[i], i));
            else
            {
                heap.TryPeek(out _, out var worst);
                if (x[i] > worst.Value) heap.EnqueueDequeue(i, (x[i], i));
            }
        }
        for (int j = k - 1; j >= 0; j--) _order[j] = heap.Dequeue();
        return k;
    }
}
