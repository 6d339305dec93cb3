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

    /// <summary>After load, the only resident pages of the mapped weights file are those the native model reads in
    /// place: the small fixture's HF-packed projections are converted and its norms copied, so nothing outside its BF16
    /// embedding may stay mapped in (the page holding the embedding's first and last bytes excepted). Without the
    /// release, the load's reads stay resident: the header, the norms, the converted originals' edge pages and the
    /// pages faulted in around them. Read from /proc/self/pagemap's present bit, which needs no privilege.</summary>
    [Test]
    public unsafe void Load_LeavesOnlyTheInPlaceWeightsResident()
    {
        if (!File.Exists("/proc/self/pagemap")) Assert.Ignore("needs Linux /proc/self/pagemap");
        string path = new Fixture("bitnet-small", "packed", "reference-packed.safetensors").Path;
        using var model = BitNetModel.Load(path);
        Assert.That((model.MappedProjections, model.ConvertedProjections), Is.EqualTo((0, 4 * 7)));
        const long page = 4096;
        long e0, e1;
        fixed (byte* e = model.File.Embedding.Bytes)
        {
            e0 = (long)e / page;
            e1 = ((long)e + model.File.Embedding.Bytes.Length - 1) / page;
        }
        // the mapping of model.safetensors is the one that holds the embedding (found by address: the path in
        // /proc/self/maps is the resolved one, which differs from ours when a folder on the way is a symbolic link)
        long lo = 0, hi = 0;
        string mapped = "";
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            string[] range = line[..line.IndexOf(' ')].Split('-');
            long a = Convert.ToInt64(range[0], 16), b = Convert.ToInt64(range[1], 16);
            if (a <= e0 * page && e0 * page < b) (lo, hi, mapped) = (a, b, line);
        }
        Assert.That(mapped, Does.EndWith("/model.safetensors"), "the embedding is read in place from the mapped file");
        Assert.That(e1 * page, Is.LessThan(hi), "the whole embedding lies in that mapping");
        var present = new List<long>();
        using (var pagemap = File.OpenRead("/proc/self/pagemap"))
        {
            byte[] entries = new byte[(hi - lo) / page * 8];
            pagemap.Seek(lo / page * 8, SeekOrigin.Begin);
            pagemap.ReadExactly(entries);
            for (long i = 0; i < entries.Length / 8; i++)
            {
                bool isPresent = (BitConverter.ToUInt64(entries, (int)(i * 8)) >> 63) != 0;
                long p = lo / page + i;
                if (isPresent && (p < e0 || p > e1)) present.Add(p - lo / page);
            }
        }
        Assert.That(present.Count, Is.LessThanOrEqualTo(2), $"resident pages outside the embedding: {string.Join(", ", present)}");
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
    [TestCase(TernaryFileType.TQ1_0, 0)]
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
            // converted copies, and I2_S x86 ones copied out of the mapping, take the kernels' row order (I2S_X4 on x86)
            int interleaved = type == TernaryFileType.TQ1_0 || PreferredLayout(256, 256) != BnTlayout.I2sX4 ? 0 : 14;
            int copied = type == TernaryFileType.I2_S ? interleaved : 0;
            Assert.That(model.ConvertedProjections, Is.EqualTo(converted), "I2_S x86 and TQ1_0 are not converted, other packings are");
            Assert.That(model.InterleavedProjections, Is.EqualTo(interleaved));
            Assert.That(model.MappedProjections, Is.EqualTo(14 - converted - copied), "every projection is mapped, converted or copied");
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

    /// <summary>An I2_S x86 file runs in place from its mapping with <see cref="ModelOptions.InterleaveRows"/> off, and
    /// copied into the kernels' row order by default (where this CPU prefers another order): the same logits bit for bit,
    /// prefill (GEMM) and decode (GEMV) alike.</summary>
    [Test]
    public void Gguf_I2S_InterleavedCopy_EqualsInPlaceBitForBit()
    {
        Fixture fixture = Fixture.TinyPacked;
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"bitnet-i2s-rows-{Guid.NewGuid():N}.gguf");
        try
        {
            using (var file = BitNetModelFile.Open(fixture.Path))
                GgufModelWriter.Write(file, path, new GgufModelWriterOptions { TernaryType = TernaryFileType.I2_S, I2SLayout = PackedFormat.I2SX86 });
            var x86 = new ModelLoadOptions { I2SLayout = PackedFormat.I2SX86 };
            using var copied = BitNetModel.Load(path, new ModelOptions { FileOptions = x86 });
            using var inPlace = BitNetModel.Load(path, new ModelOptions { FileOptions = x86, InterleaveRows = false });
            bool x4 = PreferredLayout(256, 256) == BnTlayout.I2sX4;
            Assert.That((copied.MappedProjections, copied.InterleavedProjections, copied.ConvertedProjections), Is.EqualTo(x4 ? (0, 14, 0) : (14, 0, 0)));
            Assert.That((inPlace.MappedProjections, inPlace.InterleavedProjections, inPlace.ConvertedProjections), Is.EqualTo((14, 0, 0)));
            using var reference = fixture.OpenReference();
            int[] ids = Fixture.Ids(reference, "input_ids");
            float[] want, got;
            using (var s = inPlace.CreateSession(s_two)) want = [.. s.Forward(ids, LogitsMode.All), .. s.Forward(ids.AsSpan(0, 1), LogitsMode.Last)];
            using (var s = copied.CreateSession(s_two)) got = [.. s.Forward(ids, LogitsMode.All), .. s.Forward(ids.AsSpan(0, 1), LogitsMode.Last)];
            Assert.That(got, Is.EqualTo(want), "interleaved rows compute the same bits");
            Tolerances.AssertLogits(reference.ReadSingles("logits"), got.AsSpan(0, ids.Length * copied.Config.VocabSize),
                                    copied.Config.VocabSize, "tiny packed as I2_S, interleaved");
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A TQ1_0 file runs from its mapping (no projection copied) and gives exactly the logits of the same weights
    /// as TQ2_0, which is converted to I2_S x86 at load: the TQ1 kernels compute the I2_S expression bit for bit.</summary>
    [Test]
    public void Gguf_Tq1_0_RunsZeroCopy_AndEqualsTq2_0BitForBit()
    {
        Fixture fixture = Fixture.TinyPacked;
        string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"bitnet-tq1-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string tq1 = System.IO.Path.Combine(dir, "tq1.gguf"), tq2 = System.IO.Path.Combine(dir, "tq2.gguf");
            using (var file = BitNetModelFile.Open(fixture.Path))
            {
                GgufModelWriter.Write(file, tq1, new GgufModelWriterOptions { TernaryType = TernaryFileType.TQ1_0 });
                GgufModelWriter.Write(file, tq2, new GgufModelWriterOptions { TernaryType = TernaryFileType.TQ2_0 });
            }
            using var a = BitNetModel.Load(tq1);
            using var b = BitNetModel.Load(tq2);
            Assert.That((a.MappedProjections, a.ConvertedProjections), Is.EqualTo((14, 0)), "TQ1_0: every projection zero-copy");
            Assert.That((b.MappedProjections, b.ConvertedProjections), Is.EqualTo((0, 14)), "TQ2_0: every projection converted");
            // the converted copies take the kernels' preferred row order (I2S_X4 on x86); the mapped TQ1_0 cannot
            Assert.That((a.InterleavedProjections, b.InterleavedProjections),
                        Is.EqualTo((0, PreferredLayout(256, 256) == BnTlayout.I2sX4 ? 14 : 0)));
            Assert.That(a.File.Layers[1].Down.StoredType, Is.EqualTo("TQ1_0"));
            using var reference = fixture.OpenReference();
            int[] ids = Fixture.Ids(reference, "input_ids");
            int v = a.Config.VocabSize;
            float[] want, got;
            // a prefill (GEMM) on two threads, then one decode step (GEMV) on one
            using (var s = b.CreateSession(s_two)) want = [.. s.Forward(ids, LogitsMode.All), .. s.Forward(ids.AsSpan(0, 1), LogitsMode.Last)];
            using (var s = a.CreateSession(s_two)) got = [.. s.Forward(ids, LogitsMode.All), .. s.Forward(ids.AsSpan(0, 1), LogitsMode.Last)];
            Assert.That(got.Length, Is.EqualTo((ids.Length + 1) * v));
            Assert.That(got, Is.EqualTo(want), "TQ1_0 in place and TQ2_0 converted give the same bits");
            Tolerances.AssertLogits(reference.ReadSingles("logits"), got.AsSpan(0, ids.Length * v), v, "tiny packed as TQ1_0, zero-copy");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static unsafe BnTlayout PreferredLayout(long rows, long cols)
    {
        BnTlayout layout;
        BitNetException.Check(NativeMethods.bn_tmatmul_preferred_layout(rows, cols, &layout));
        return layout;
    }

    /// <summary>A TQ1_0 tensor whose nonzero blocks carry different d is refused at load as before, though nothing is
    /// converted any more: the check reads the d in place, and names the blocks.</summary>
    [Test]
    public void Gguf_Tq1_0_WithPerBlockScales_IsRefusedAtLoad()
    {
        string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"bitnet-tq1d-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string good = System.IO.Path.Combine(dir, "good.gguf"), mixed = System.IO.Path.Combine(dir, "mixed.gguf");
            using (var file = BitNetModelFile.Open(Fixture.TinyPacked.Path))
                GgufModelWriter.Write(file, good, new GgufModelWriterOptions { TernaryType = TernaryFileType.TQ1_0 });
            long offset;
            using (var f = GgufFile.Open(good)) offset = f["blk.0.attn_q.weight"].FileOffset;
            byte[] bytes = File.ReadAllBytes(good);
            // block 1 (54 bytes per block, d at byte 52) gets twice block 0's d
            float d0 = (float)BitConverter.UInt16BitsToHalf(System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan((int)offset + 52)));
            Assert.That(d0, Is.GreaterThan(0f), "block 0 holds nonzero codes");
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan((int)offset + 54 + 52), BitConverter.HalfToUInt16Bits((Half)(d0 * 2)));
            File.WriteAllBytes(mixed, bytes);
            var e = Assert.Throws<ModelFormatException>(() => BitNetModel.Load(mixed).Dispose())!;
            Assert.That(e.FilePath, Is.EqualTo(mixed));
            Assert.That(e.Problem, Does.Contain("blk.0.attn_q.weight': blocks 0 and 1 have different scales")
                .And.Contain("only per-tensor ternary weights"));
            // a NaN d (0xFFFF) is refused naming the tensor and the block's row
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan((int)offset + 54 + 52), 0xFFFF);
            File.WriteAllBytes(mixed, bytes);
            e = Assert.Throws<ModelFormatException>(() => BitNetModel.Load(mixed).Dispose())!;
            Assert.That(e.Problem, Does.StartWith("tensor 'blk.0.attn_q.weight': ").And.Contain("in row 1"));
            using var model = BitNetModel.Load(good);
            Assert.That(model.MappedProjections, Is.EqualTo(14));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
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
