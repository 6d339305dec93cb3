using System.Buffers.Binary;
using System.Text.Json;
using BitNet.Cli;
using BitNet.Inference;
using BitNet.Interop;
using BitNet.Models;

namespace BitNet.Tests.Inference;

/// <summary>
/// GGUF files whose token_embd (the tied LM head) is ggml Q4_K, as llama.cpp's k-quant mixes write it: the tiny fixture
/// written with its embedding encoded as Q4_K here (a simple per-sub-block min/max quantizer giving valid blocks; there
/// is no Q4_K quantizer in the library), loaded and run, against the same model whose embedding is the F32
/// dequantization of those Q4_K bytes: equal logits within 1e-4, an equal embedding row by row, the managed
/// dequantizer equal to the native one bit for bit, and `bitnet inspect` naming the type.
/// </summary>
public sealed class Q4KEmbeddingTests
{
    private string _temp = null!;

    [SetUp]
    public void CreateTemp()
    {
        _temp = Path.Combine(Path.GetTempPath(), "bitnet-q4k-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_temp);
    }

    [TearDown]
    public void DeleteTemp()
    {
        if (Directory.Exists(_temp)) Directory.Delete(_temp, recursive: true);
    }

    /// <summary>x (rows × cols, cols a multiple of 256) → Q4_K blocks: per sub-block of 32, scale = (max − min') / 15
    /// and min = −min' with min' = min(0, min x); the block's d = max scale / 63 and dmin = max min / 63 (fp16); the
    /// 6-bit sc and m rounded, packed as ggml's get_scale_min_k4 reads them; q = clamp(round((x + dmin·m) / (d·sc)), 0, 15).</summary>
    private static byte[] EncodeQ4K(ReadOnlySpan<float> x, int rows, int cols)
    {
        int nb = cols / 256;
        var dst = new byte[rows * nb * 144];
        Span<float> scale = stackalloc float[8], min = stackalloc float[8];
        Span<int> sc = stackalloc int[8], m = stackalloc int[8];
        for (int blk = 0; blk < rows * nb; blk++)
        {
            ReadOnlySpan<float> v = x.Slice(blk * 256, 256);
            Span<byte> o = dst.AsSpan(blk * 144, 144);
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 8; j++)
            {
                float lo = 0, hi = float.MinValue;
                foreach (float f in v.Slice(32 * j, 32)) { lo = MathF.Min(lo, f); hi = MathF.Max(hi, f); }
                scale[j] = (hi - lo) / 15f;
                min[j] = -lo;
                maxScale = MathF.Max(maxScale, scale[j]);
                maxMin = MathF.Max(maxMin, min[j]);
            }
            Half dh = (Half)(maxScale / 63f), mh = (Half)(maxMin / 63f);
            float d = (float)dh, dmin = (float)mh;
            BinaryPrimitives.WriteUInt16LittleEndian(o, BitConverter.HalfToUInt16Bits(dh));
            BinaryPrimitives.WriteUInt16LittleEndian(o[2..], BitConverter.HalfToUInt16Bits(mh));
            for (int j = 0; j < 8; j++)
            {
                sc[j] = d > 0 ? Math.Clamp((int)MathF.Round(scale[j] / d), 0, 63) : 0;
                m[j] = dmin > 0 ? Math.Clamp((int)MathF.Round(min[j] / dmin), 0, 63) : 0;
            }
            Span<byte> s = o.Slice(4, 12);
            for (int j = 0; j < 4; j++)
            {
                s[j] = (byte)(sc[j] | (sc[j + 4] >> 4) << 6);
                s[j + 4] = (byte)(m[j] | (m[j + 4] >> 4) << 6);
                s[j + 8] = (byte)((sc[j + 4] & 0xF) | (m[j + 4] & 0xF) << 4);
            }
            Span<byte> qs = o.Slice(16, 128);
            for (int e = 0; e < 256; e++)
            {
                int j = e / 32;
                float ds = d * sc[j], dm = dmin * m[j];
                int q = ds > 0 ? Math.Clamp((int)MathF.Round((v[e] + dm) / ds), 0, 15) : 0;
                qs[32 * (e / 64) + e % 32] |= (byte)(q << (e % 64 < 32 ? 0 : 4));
            }
        }
        return dst;
    }

    [Test]
    public void Q4KEmbeddingLoadsAndRunsAsItsF32Dequantization()
    {
        string baseGguf = Path.Combine(_temp, "base.gguf"), q4k = Path.Combine(_temp, "q4k.gguf"), f32 = Path.Combine(_temp, "f32.gguf");
        float[] source;
        int vocab, hidden;
        using (var packed = BitNetModelFile.Open(Fixture.TinyPacked.Path))
        {
            GgufModelWriter.Write(packed, baseGguf, new GgufModelWriterOptions { EmbeddingType = EmbeddingType.F32 });
            source = packed.Embedding.ToSingles();
            (vocab, hidden) = (packed.Config.VocabSize, packed.Config.HiddenSize);
        }
        byte[] q = EncodeQ4K(source, vocab, hidden);
        float[] deq = EmbeddingVariants.Dequantize(BnDtype.Q4K, q, vocab, hidden);
        var managed = new float[deq.Length];
        for (int r = 0; r < vocab; r++)
            EmbeddingTypes.Dequantize(EmbeddingType.Q4_K, q.AsSpan(r * 144 * (hidden / 256), 144 * (hidden / 256)), managed.AsSpan(r * hidden, hidden));
        Assert.That(managed, Is.EqualTo(deq), "managed and native dequantizers agree bit for bit");
        double err = 0, ss = 0;
        for (int i = 0; i < deq.Length; i++) { err += (deq[i] - source[i]) * (double)(deq[i] - source[i]); ss += source[i] * (double)source[i]; }
        Assert.That(Math.Sqrt(err / ss), Is.LessThan(0.15), "the test's encoder gives meaningful blocks (4 bits: ~5-10%)");

        EmbeddingVariants.WithEmbedding(baseGguf, q4k, GgufTypes.Q4_K, q);
        var deqBytes = new byte[deq.Length * 4];
        Buffer.BlockCopy(deq, 0, deqBytes, 0, deqBytes.Length);
        EmbeddingVariants.WithEmbedding(baseGguf, f32, GgufTypes.F32, deqBytes);

        using (var file = BitNetModelFile.Open(q4k))
        {
            Assert.That(file.Embedding.Type, Is.EqualTo(EmbeddingType.Q4_K));
            Assert.That(file.Embedding.RowBytes, Is.EqualTo(hidden / 256 * 144));
            Assert.That(file.Embedding.ToSingles(), Is.EqualTo(deq));
            // a Q4_K source can be written as Q4_K (bytes copied), but nothing else can (no quantizer)
            string copy = Path.Combine(_temp, "copy.gguf");
            GgufModelWriter.Write(file, copy, new GgufModelWriterOptions { EmbeddingType = EmbeddingType.Q4_K });
            using var copied = GgufFile.Open(copy);
            Assert.That(copied.GetTensorBytes(copied["token_embd.weight"]).ToArray(), Is.EqualTo(q));
        }
        // `bitnet inspect --json` lists the embedding as Q4_K with its byte size
        using (var stdout = new StringWriter())
        using (var stderr = new StringWriter())
        {
            Assert.That(CliApplication.Run(["inspect", q4k, "--json"], stdout, stderr), Is.EqualTo(0), stderr.ToString());
            using var doc = JsonDocument.Parse(stdout.ToString());
            JsonElement embd = doc.RootElement.GetProperty("tensors").EnumerateArray()
                .Single(t => t.GetProperty("name").GetString() == "token_embd.weight");
            Assert.That(embd.GetProperty("type").GetString(), Is.EqualTo("Q4_K"));
            Assert.That(embd.GetProperty("bytes").GetInt64(), Is.EqualTo(q.Length));
        }
        using (var f32File = BitNetModelFile.Open(f32))
        {
            var e = Assert.Throws<ArgumentException>(() =>
                GgufModelWriter.Write(f32File, Path.Combine(_temp, "no.gguf"), new GgufModelWriterOptions { EmbeddingType = EmbeddingType.Q4_K }))!;
            Assert.That(e.Message, Does.Contain("only from a Q4_K source"));
        }

        using var reference = Fixture.TinyPacked.OpenReference();
        int[] ids = Fixture.Ids(reference, "input_ids");
        using var a = BitNetModel.Load(q4k);
        using var b = BitNetModel.Load(f32);
        using var sa = a.CreateSession(new SessionOptions { Threads = 2 });
        using var sb = b.CreateSession(new SessionOptions { Threads = 2 });
        float[] got = sa.Forward(ids, LogitsMode.All), want = sb.Forward(ids, LogitsMode.All);
        Assert.That(got, Has.Length.EqualTo(ids.Length * vocab));
        float maxDiff = 0, maxAbs = 0;
        for (int i = 0; i < got.Length; i++) { maxDiff = MathF.Max(maxDiff, MathF.Abs(got[i] - want[i])); maxAbs = MathF.Max(maxAbs, MathF.Abs(want[i])); }
        TestContext.Out.WriteLine($"max |Q4_K - F32| logit difference {maxDiff:g3} (max |logit| {maxAbs:g3})");
        Assert.That(maxAbs, Is.GreaterThan(0.1f), "logits are not all ~0");
        Assert.That(maxDiff, Is.LessThanOrEqualTo(1e-4f));
        // and the Q4_K model's logits differ from the BF16 original's by about the 4-bit error, not by nothing
        using var original = BitNetModel.Load(Fixture.TinyPacked.Path);
        using var so = original.CreateSession(new SessionOptions { Threads = 2 });
        float[] orig = so.Forward(ids, LogitsMode.All);
        float diffOrig = 0;
        for (int i = 0; i < got.Length; i++) diffOrig = MathF.Max(diffOrig, MathF.Abs(got[i] - orig[i]));
        Assert.That(diffOrig, Is.GreaterThan(1e-3f), "the Q4_K embedding is what the model ran");
    }

    [Test]
    public void Q4KRowsDecodeAsGgmlLaysThemOut()
    {
        // d = 1, dmin = 0.5; sub-block j has sc = j + 1 and m = 2j (j >= 4 use the packed high bits); code of value i = i % 16
        var block = new byte[144];
        BinaryPrimitives.WriteUInt16LittleEndian(block, BitConverter.HalfToUInt16Bits((Half)1f));
        BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(2), BitConverter.HalfToUInt16Bits((Half)0.5f));
        int[] sc = [1, 2, 3, 4, 37, 38, 39, 40], m = [0, 2, 4, 6, 48, 50, 52, 63];
        for (int j = 0; j < 4; j++)
        {
            block[4 + j] = (byte)(sc[j] | (sc[j + 4] >> 4) << 6);
            block[8 + j] = (byte)(m[j] | (m[j + 4] >> 4) << 6);
            block[12 + j] = (byte)((sc[j + 4] & 0xF) | (m[j + 4] & 0xF) << 4);
        }
        for (int i = 0; i < 256; i++) block[16 + 32 * (i / 64) + i % 32] |= (byte)((i % 16) << (i % 64 < 32 ? 0 : 4));
        var y = new float[256];
        EmbeddingTypes.Dequantize(EmbeddingType.Q4_K, block, y);
        Assert.That(y, Is.EqualTo(Enumerable.Range(0, 256).Select(i => (float)sc[i / 32] * (i % 16) - 0.5f * m[i / 32])));
        Assert.That(EmbeddingVariants.Dequantize(BnDtype.Q4K, block, 1, 256), Is.EqualTo(y));
        Assert.That(EmbeddingTypes.RowBytes(EmbeddingType.Q4_K, 512), Is.EqualTo(288));
        Assert.That(EmbeddingTypes.FromGguf(GgufTypes.Q4_K), Is.EqualTo(EmbeddingType.Q4_K));
    }
}
