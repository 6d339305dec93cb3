using BitNet.Inference;
using BitNet.Interop;
using BitNet.Models;
using BitNet.Quantization;

namespace BitNet.Tests.Inference;

/// <summary>BitNetModel + InferenceSession against the reference fixtures (README "Tolerances"), through the C# API.</summary>
public sealed class BitNetModelTests
{
    private static readonly SessionOptions s_two = new() { Threads = 2 };

    [TestCaseSource(typeof(Fixture), nameof(Fixture.All))]
    public void Logits_MatchReference(Fixture fixture)
    {
        using var model = BitNetModel.Load(fixture.Path);
        using var reference = fixture.OpenReference();
        using var session = model.CreateSession(s_two);
        int[] ids = Fixture.Ids(reference, "input_ids");
        float[] logits = session.Forward(ids, LogitsMode.All);
        Assert.That(session.Position, Is.EqualTo(ids.Length));
        Tolerances.AssertLogits(reference.ReadSingles("logits"), logits, model.Config.VocabSize, $"{fixture} logits");
    }

    [TestCaseSource(typeof(Fixture), nameof(Fixture.All))]
    public void LastLogits_EqualTheLastRowOfAll(Fixture fixture)
    {
        using var model = BitNetModel.Load(fixture.Path);
        using var reference = fixture.OpenReference();
        int[] ids = Fixture.Ids(reference, "input_ids");
        using var a = model.CreateSession(s_two);
        using var b = model.CreateSession(new SessionOptions { Threads = 1 });
        float[] all = a.Forward(ids, LogitsMode.All);
        float[] last = b.Forward(ids, LogitsMode.Last);
        int v = model.Config.VocabSize;
        Assert.That(last, Is.EqualTo(all.AsSpan(all.Length - v).ToArray()), "threads do not change results");
    }

    [TestCaseSource(typeof(Fixture), nameof(Fixture.All))]
    public void BatchLogits_EachRowInItsOwnSession_MatchReference(Fixture fixture)
    {
        using var model = BitNetModel.Load(fixture.Path);
        using var reference = fixture.OpenReference();
        TensorInfo info = reference["batch_input_ids"];
        int b = (int)info.Shape[0], t = (int)info.Shape[1], v = model.Config.VocabSize;
        int[] ids = Fixture.Ids(reference, "batch_input_ids");
        float[] want = reference.ReadSingles("batch_logits");
        for (int r = 0; r < b; r++)
        {
            using var session = model.CreateSession(s_two);
            float[] got = session.Forward(ids.AsSpan(r * t, t), LogitsMode.All);
            Tolerances.AssertLogits(want.AsSpan(r * t * v, t * v), got, v, $"{fixture} batch row {r}");
        }
    }

    [TestCaseSource(typeof(Fixture), nameof(Fixture.All))]
    public void GreedyDecode_MatchesReference(Fixture fixture)
    {
        using var model = BitNetModel.Load(fixture.Path);
        using var reference = fixture.OpenReference();
        using var session = model.CreateSession(s_two);
        int matched = Tolerances.AssertGreedy(session, Fixture.Ids(reference, "greedy_prompt_ids"), Fixture.Ids(reference, "greedy_ids"), fixture.ToString());
        Assert.That(matched, Is.GreaterThan(0));
    }

    [Test]
    public void HiddenStates_TinyMaster_MatchReference()
    {
        Fixture fixture = Fixture.TinyMaster;
        using var model = BitNetModel.Load(fixture.Path);
        using var reference = fixture.OpenReference();
        using var session = model.CreateSession(s_two);
        int[] ids = Fixture.Ids(reference, "input_ids");
        int t = ids.Length, h = model.Config.HiddenSize, layers = model.Config.LayerCount;
        var logits = new float[session.LogitsLength(t, LogitsMode.All)];
        var hidden = new float[session.HiddenStatesLength(t)];
        session.Forward(ids, logits, LogitsMode.All, hidden);
        for (int l = 0; l <= layers; l++)
        {
            double err = Tolerances.MaxAbs(reference.ReadSingles($"hidden_state.{l}"), hidden.AsSpan(l * t * h, t * h));
            TestContext.Out.WriteLine($"hidden_state.{l}: max |d| {err:G3}");
            Assert.That(err, Is.LessThanOrEqualTo(l <= 1 ? 1e-3 : 5e-2), $"hidden_state.{l}");
        }
        Tolerances.AssertLogits(reference.ReadSingles("logits"), logits, model.Config.VocabSize, "tiny/master logits with hidden states");
    }

    [TestCase(TernaryFileType.TQ2_0, 14)]
    [TestCase(TernaryFileType.TQ1_0, 14)]
    [TestCase(TernaryFileType.I2_S, 0)]
    public void Gguf_WrittenFromTinyPacked_MatchesReference(TernaryFileType type, int converted)
    {
        Fixture fixture = Fixture.TinyPacked;
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"bitnet-inference-{type}-{Guid.NewGuid():N}.gguf");
        try
        {
            using (var file = BitNetModelFile.Open(fixture.Path))
                GgufModelWriter.Write(file, path, new GgufModelWriterOptions { TernaryType = type, I2SLayout = PackedFormat.I2SX86 });
            // the layout is named on both sides, so the test means the same on x86 and ARM hosts
            using var model = BitNetModel.Load(path, new ModelOptions { FileOptions = new ModelLoadOptions { I2SLayout = PackedFormat.I2SX86 } });
            Assert.That(model.ConvertedProjections, Is.EqualTo(converted), "I2_S x86 is referenced in the mapping, other packings converted");
            using var reference = fixture.OpenReference();
            using var session = model.CreateSession(s_two);
            float[] logits = session.Forward(Fixture.Ids(reference, "input_ids"), LogitsMode.All);
            Tolerances.AssertLogits(reference.ReadSingles("logits"), logits, model.Config.VocabSize, $"tiny packed as {type} GGUF");
            Tolerances.AssertGreedy(session, Fixture.Ids(reference, "greedy_prompt_ids"), Fixture.Ids(reference, "greedy_ids"), $"{type} GGUF");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void TwoSessions_OnOneModel_DoNotDisturbEachOther()
    {
        using var model = BitNetModel.Load(Fixture.TinyMaster.Path);
        using var reference = Fixture.TinyMaster.OpenReference();
        int[] a = Fixture.Ids(reference, "input_ids"), b = Fixture.Ids(reference, "greedy_prompt_ids");
        float[] aloneA, aloneB;
        using (var s = model.CreateSession(s_two)) aloneA = s.Forward(a, LogitsMode.All);
        using (var s = model.CreateSession(s_two)) aloneB = s.Forward(b, LogitsMode.All);

        using var sa = model.CreateSession(s_two);
        using var sb = model.CreateSession(new SessionOptions { Threads = 1, KvCacheType = KvCacheType.F32 });
        int v = model.Config.VocabSize;
        var gotA = new float[aloneA.Length];
        var gotB = new float[aloneB.Length];
        // interleave token by token: each step of one session runs between steps of the other
        for (int i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            if (i < a.Length) sa.Forward(a.AsSpan(i, 1), gotA.AsSpan(i * v, v), LogitsMode.Last, default);
            if (i < b.Length) sb.Forward(b.AsSpan(i, 1), gotB.AsSpan(i * v, v), LogitsMode.Last, default);
        }
        Assert.Multiple(() =>
        {
            Assert.That(sa.Position, Is.EqualTo(a.Length));
            Assert.That(sb.Position, Is.EqualTo(b.Length));
            // token-at-a-time vs one prefill pass differ only by summation order
            Assert.That(Tolerances.MaxAbs(aloneA, gotA), Is.LessThan(0.05));
            Assert.That(Tolerances.MaxAbs(aloneB, gotB), Is.LessThan(0.05));
        });
        // and in parallel on two threads
        float[] parA = [], parB = [];
        using var pa = model.CreateSession(s_two);
        using var pb = model.CreateSession(s_two);
        Parallel.Invoke(() => parA = pa.Forward(a, LogitsMode.All), () => parB = pb.Forward(b, LogitsMode.All));
        Assert.That(parA, Is.EqualTo(aloneA));
        Assert.That(parB, Is.EqualTo(aloneB));
    }

    [Test]
    public void Forward_PastTheContext_ThrowsAndChangesNothing()
    {
        using var model = BitNetModel.Load(Fixture.TinyMaster.Path);
        using var session = model.CreateSession(new SessionOptions { ContextSize = 8, Threads = 1 });
        session.Forward([0, 5, 6, 7, 8, 9], LogitsMode.None);
        var e = Assert.Throws<BitNetException>(() => session.Forward([1, 2, 3], LogitsMode.Last))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrShape));
            Assert.That(e.Message, Does.Contain("context full"));
            Assert.That(session.Position, Is.EqualTo(6));
        });
        session.Forward([1, 2], LogitsMode.Last);
        Assert.That(session.Position, Is.EqualTo(8));
        session.Truncate(3);
        Assert.That(session.Position, Is.EqualTo(3));
        session.Reset();
        Assert.That(session.Position, Is.EqualTo(0));
    }

    [Test]
    public void Forward_BadTokenId_ThrowsBitNetException()
    {
        using var model = BitNetModel.Load(Fixture.TinyMaster.Path);
        using var session = model.CreateSession(new SessionOptions { Threads = 1 });
        Assert.Throws<BitNetException>(() => session.Forward([model.Config.VocabSize], LogitsMode.Last));
        Assert.That(session.Position, Is.EqualTo(0));
    }

    [Test]
    public void Load_ExposesConfigAndTokenizer_AndConvertsPackedProjections()
    {
        using var model = BitNetModel.Load(Fixture.TinyPacked.Path);
        Assert.Multiple(() =>
        {
            Assert.That(model.Config.LayerCount, Is.EqualTo(2));
            Assert.That(model.Config.VocabSize, Is.EqualTo(512));
            Assert.That(model.Tokenizer, Is.Not.Null);
            Assert.That(model.ConvertedProjections, Is.EqualTo(14));
        });
    }

    [Test]
    public void F16KvCache_StaysWithinTolerance()
    {
        using var model = BitNetModel.Load(Fixture.TinyMaster.Path);
        using var reference = Fixture.TinyMaster.OpenReference();
        using var session = model.CreateSession(new SessionOptions { KvCacheType = KvCacheType.F16, Threads = 2 });
        float[] logits = session.Forward(Fixture.Ids(reference, "input_ids"), LogitsMode.All);
        Tolerances.AssertLogits(reference.ReadSingles("logits"), logits, model.Config.VocabSize, "tiny/master F16 KV cache");
    }

    [Test]
    public void DisposingTheModel_WhileASessionIsOpen_KeepsItsWeightsUntilTheSessionCloses()
    {
        using var reference = Fixture.TinyPacked.OpenReference();
        int[] ids = Fixture.Ids(reference, "input_ids");
        var model = BitNetModel.Load(Fixture.TinyPacked.Path);
        float[] before;
        using (var s = model.CreateSession(s_two)) before = s.Forward(ids, LogitsMode.All);
        var session = model.CreateSession(s_two);
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => model.CreateSession());
        Assert.That(session.Forward(ids, LogitsMode.All), Is.EqualTo(before), "converted weights and the mapping are still there");
        session.Dispose();
        session.Dispose(); // twice is harmless
    }
}
