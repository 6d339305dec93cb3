using BitNet.Inference;
using BitNet.Inference.Sampling;

namespace BitNet.Tests.Inference;

/// <summary>Sampling and streaming generation on the tiny fixture.</summary>
public sealed class GenerationTests
{
    private static BitNetModel s_model = null!;

    [OneTimeSetUp]
    public static void Load() => s_model = BitNetModel.Load(Fixture.TinyMaster.Path);

    [OneTimeTearDown]
    public static void Unload() => s_model.Dispose();

    private static async Task<(string Text, GenerationResult Result)> Run(InferenceSession session, IReadOnlyList<int> prompt, GenerationOptions options)
    {
        var text = new System.Text.StringBuilder();
        await foreach (string piece in session.GenerateAsync(prompt, options)) text.Append(piece);
        return (text.ToString(), session.LastResult!);
    }

    private static int[] Prompt()
    {
        using var reference = Fixture.TinyMaster.OpenReference();
        return Fixture.Ids(reference, "greedy_prompt_ids");
    }

    [Test]
    public async Task Greedy_MatchesReferenceGreedyIds()
    {
        using var reference = Fixture.TinyMaster.OpenReference();
        int[] prompt = Fixture.Ids(reference, "greedy_prompt_ids"), want = Fixture.Ids(reference, "greedy_ids");
        using var session = s_model.CreateSession(new SessionOptions { Threads = 2 });
        var (text, result) = await Run(session, prompt, new GenerationOptions { Temperature = 0, MaxTokens = want.Length - prompt.Length, StopAtStopTokens = false });
        Assert.Multiple(() =>
        {
            // tiny/master: the native test matches all 24 steps (every margin is clear of 0.1 there)
            Assert.That(result.TokenIds, Is.EqualTo(want[prompt.Length..]));
            Assert.That(result.StopReason, Is.EqualTo(StopReason.MaxTokens));
            Assert.That(result.PromptTokens, Is.EqualTo(prompt.Length));
            Assert.That(text, Is.EqualTo(s_model.Tokenizer!.Decode(want[prompt.Length..])));
            Assert.That(session.Position, Is.EqualTo(want.Length), "the cache holds the prompt and every generated token");
            Assert.That(result.PrefillTokensPerSecond, Is.GreaterThan(0));
            Assert.That(result.DecodeTokensPerSecond, Is.GreaterThan(0));
        });
    }

    [Test]
    public async Task TopK1_EqualsGreedy()
    {
        int[] prompt = Prompt();
        using var a = s_model.CreateSession(new SessionOptions { Threads = 1 });
        using var b = s_model.CreateSession(new SessionOptions { Threads = 1 });
        var greedy = await Run(a, prompt, new GenerationOptions { Temperature = 0, MaxTokens = 20, StopAtStopTokens = false });
        var topk1 = await Run(b, prompt, new GenerationOptions { Temperature = 1.5f, TopK = 1, TopP = 1, MinP = 0, MaxTokens = 20, StopAtStopTokens = false, Seed = 7 });
        Assert.That(topk1.Result.TokenIds, Is.EqualTo(greedy.Result.TokenIds));
    }

    [Test]
    public async Task Seed_MakesSamplingReproducible()
    {
        int[] prompt = Prompt();
        var options = new GenerationOptions { Temperature = 1.2f, TopK = 0, TopP = 1, MinP = 0, MaxTokens = 30, StopAtStopTokens = false, Seed = 1234 };
        using var a = s_model.CreateSession(new SessionOptions { Threads = 1 });
        using var b = s_model.CreateSession(new SessionOptions { Threads = 2 });
        var first = await Run(a, prompt, options);
        var second = await Run(b, prompt, options);
        a.Reset();
        var third = await Run(a, prompt, options with { Seed = 99 });
        b.Reset();
        var greedy = await Run(b, prompt, new GenerationOptions { Temperature = 0, MaxTokens = 30, StopAtStopTokens = false });
        Assert.Multiple(() =>
        {
            Assert.That(second.Result.TokenIds, Is.EqualTo(first.Result.TokenIds));
            Assert.That(second.Text, Is.EqualTo(first.Text));
            Assert.That(first.Result.Seed, Is.EqualTo(1234UL));
            // at temperature 1.2 over the whole vocabulary, 30 draws with another seed (or none) do not all coincide
            Assert.That(third.Result.TokenIds, Is.Not.EqualTo(first.Result.TokenIds));
            Assert.That(greedy.Result.TokenIds, Is.Not.EqualTo(first.Result.TokenIds));
        });
    }

    [Test]
    public async Task Cancellation_RollsBackTheSession_WhichStaysUsable()
    {
        int[] prompt = Prompt();
        using var session = s_model.CreateSession(new SessionOptions { Threads = 1 });
        session.Forward([0, 3, 4], LogitsMode.None); // earlier conversation that must survive
        using var cts = new CancellationTokenSource();
        int pieces = 0;
        await Assert.ThrowsAsync(Is.InstanceOf<OperationCanceledException>(), async () =>
        {
            await foreach (string _ in session.GenerateAsync(prompt, new GenerationOptions { Temperature = 0, MaxTokens = 200, StopAtStopTokens = false }, cts.Token))
            {
                if (++pieces == 2) cts.Cancel();
            }
        });
        Assert.Multiple(() =>
        {
            Assert.That(pieces, Is.EqualTo(2));
            Assert.That(session.Position, Is.EqualTo(3), "rolled back to where the call began");
            Assert.That(session.LastResult!.StopReason, Is.EqualTo(StopReason.Cancelled));
        });

        // usable: continuing gives what a fresh session with the same history gives
        var after = await Run(session, prompt, new GenerationOptions { Temperature = 0, MaxTokens = 10, StopAtStopTokens = false });
        using var fresh = s_model.CreateSession(new SessionOptions { Threads = 1 });
        fresh.Forward([0, 3, 4], LogitsMode.None);
        var want = await Run(fresh, prompt, new GenerationOptions { Temperature = 0, MaxTokens = 10, StopAtStopTokens = false });
        Assert.That(after.Result.TokenIds, Is.EqualTo(want.Result.TokenIds));
    }

    /// <summary>The KV cache and scratch come from the session's pool: after a cancelled stream the session's positions
    /// are released (rolled back), and disposing it returns every byte to the pool.</summary>
    [Test]
    public async Task CancelledStream_ThenDispose_ReturnsTheKvCacheToThePool()
    {
        using var pool = new NativeMemoryPool();
        ulong before = pool.Stats.BytesInUse;
        var session = s_model.CreateSession(new SessionOptions { Threads = 1, Pool = pool });
        ulong held = pool.Stats.BytesInUse;
        Assert.That(held, Is.GreaterThan(before), "the cache is drawn from the session's pool");
        using var cts = new CancellationTokenSource();
        await Assert.ThrowsAsync(Is.InstanceOf<OperationCanceledException>(), async () =>
        {
            await foreach (string _ in session.GenerateAsync(Prompt(), new GenerationOptions { Temperature = 0, MaxTokens = 100, StopAtStopTokens = false }, cts.Token))
                cts.Cancel();
        });
        Assert.That(session.Position, Is.EqualTo(0), "the cancelled prompt and tokens no longer occupy the cache");
        Assert.That(pool.Stats.BytesInUse, Is.EqualTo(held), "generation allocates nothing more from the pool");
        session.Dispose();
        Assert.That(pool.Stats.BytesInUse, Is.EqualTo(before), "disposing the session frees its KV cache");
    }

    [Test]
    public async Task BreakingOutOfTheStream_RollsBack()
    {
        using var session = s_model.CreateSession(new SessionOptions { Threads = 1 });
        await foreach (string _ in session.GenerateAsync(Prompt(), new GenerationOptions { Temperature = 0, MaxTokens = 50, StopAtStopTokens = false }))
            break;
        Assert.That(session.Position, Is.EqualTo(0));
        Assert.That(session.LastResult!.StopReason, Is.EqualTo(StopReason.Cancelled));
    }

    [Test]
    public async Task StopToken_And_StopString_EndGeneration()
    {
        int[] prompt = Prompt();
        using var session = s_model.CreateSession(new SessionOptions { Threads = 1 });
        var free = await Run(session, prompt, new GenerationOptions { Temperature = 0, MaxTokens = 12, StopAtStopTokens = false });
        int stopAt = free.Result.TokenIds[3];
        session.Reset();
        var byToken = await Run(session, prompt, new GenerationOptions { Temperature = 0, MaxTokens = 12, StopTokenIds = [stopAt] });
        Assert.That(byToken.Result.StopReason, Is.EqualTo(StopReason.StopToken));
        Assert.That(byToken.Result.TokenIds[^1], Is.EqualTo(stopAt));
        Assert.That(byToken.Result.TokenIds.Count, Is.LessThanOrEqualTo(4));

        // a stop string from the middle of the free text: the output is the text before it
        string full = free.Text;
        Assume.That(full.Length, Is.GreaterThanOrEqualTo(6));
        string stop = full.Substring(full.Length / 2, 2);
        session.Reset();
        var byString = await Run(session, prompt, new GenerationOptions { Temperature = 0, MaxTokens = 12, StopAtStopTokens = false, StopStrings = [stop] });
        Assert.That(byString.Result.StopReason, Is.EqualTo(StopReason.StopString));
        Assert.That(byString.Text, Is.EqualTo(full[..full.IndexOf(stop, StringComparison.Ordinal)]));
    }

    [Test]
    public async Task TextPrompt_IsTokenizedWithBos()
    {
        using var session = s_model.CreateSession(new SessionOptions { Threads = 1 });
        await foreach (string _ in session.GenerateAsync("hello world", new GenerationOptions { Temperature = 0, MaxTokens = 3, StopAtStopTokens = false })) { }
        int[] ids = s_model.Tokenizer!.Encode("hello world", new BitNet.Tokenization.EncodeOptions { AddBos = true });
        Assert.That(session.LastResult!.PromptTokens, Is.EqualTo(ids.Length));
        Assert.That(ids[0], Is.EqualTo(0));
        Assert.That(session.Position, Is.EqualTo(ids.Length + 3));
    }

    [Test]
    public void Sampler_TopKSelection_AgreesWithFullSort()
    {
        var rng = new Xoshiro256StarStar(5);
        var logits = new float[1000];
        for (int i = 0; i < logits.Length; i++) logits[i] = (float)(rng.NextDouble() * 10);
        logits[17] = logits[400]; // a tie
        // with top-k = 1 and top-p/min-p off, the pick is always the argmax, whatever the seed
        for (ulong seed = 0; seed < 20; seed++)
        {
            var s = new Sampler(new GenerationOptions { TopK = 1, Temperature = 2, Seed = seed });
            Assert.That(s.Sample(logits, []), Is.EqualTo(Sampler.ArgMax(logits)));
        }
        // top-k 3 only ever picks one of the 3 largest
        int[] top3 = logits.Select((v, i) => (v, i)).OrderByDescending(p => p.v).ThenBy(p => p.i).Take(3).Select(p => p.i).ToArray();
        var s3 = new Sampler(new GenerationOptions { TopK = 3, Temperature = 5, TopP = 1, MinP = 0, Seed = 3 });
        var seen = new HashSet<int>();
        for (int i = 0; i < 300; i++) seen.Add(s3.Sample(logits, []));
        Assert.That(seen, Is.SubsetOf(top3));
        Assert.That(seen, Has.Count.GreaterThan(1));
    }

    [Test]
    public void Sampler_Penalties_ChangeTheArgmax()
    {
        float[] logits = [1.0f, 2.0f, 1.9f];
        Assert.That(new Sampler(new GenerationOptions { Temperature = 0 }).Sample(logits, [1]), Is.EqualTo(1));
        Assert.That(new Sampler(new GenerationOptions { Temperature = 0, RepetitionPenalty = 1.1f }).Sample(logits, [1]), Is.EqualTo(2));
        Assert.That(new Sampler(new GenerationOptions { Temperature = 0, PresencePenalty = 1.5f }).Sample(logits, [1, 2]), Is.EqualTo(0));
    }

    [Test]
    public void Xoshiro_IsDeterministic()
    {
        var a = new Xoshiro256StarStar(42);
        var b = new Xoshiro256StarStar(42);
        var c = new Xoshiro256StarStar(43);
        ulong[] x = Enumerable.Range(0, 8).Select(_ => a.NextUInt64()).ToArray();
        Assert.That(Enumerable.Range(0, 8).Select(_ => b.NextUInt64()), Is.EqualTo(x));
        Assert.That(Enumerable.Range(0, 8).Select(_ => c.NextUInt64()), Is.Not.EqualTo(x));
    }
}
