using BitNet.Inference;
using BitNet.Interop;
using BitNet.Models;

namespace BitNet.Tests.Inference;

/// <summary>
/// A Q6_K tied embedding runs the LM head in integers, as llama.cpp does: each final hidden row is rounded to ggml's
/// Q8_K (8 bits, one scale per 256 values) and dotted with the Q6_K rows in integer arithmetic. The packed fixtures
/// written as GGUF with a Q6_K embedding, against the same models whose embedding is the F32 dequantization of those
/// Q6_K bytes (float head): equal hidden states bit for bit (the embedding lookup dequantizes to the same floats), and
/// every logit within the rounding bound of Q8_K: |Δ| ≤ Σ_i |w_i|·|d8(i)|·(1/2 + 1e-4) + 1e-4·Σ_i |h_i·w_i|, with
/// |d8| = max|h| / 127 of i's block of 256 (round to nearest; the 1e-4 terms cover float rounding of the scales
/// and of both sums). Against the HF references a Q6_K embedding (input and head) is outside the fixture README's
/// tolerances on these small random models whichever head runs (tiny: mean KL ~1e-3, small: max |Δ| ~0.45), so the
/// comparison here is with the float head on the same weights.
/// </summary>
public sealed class Q6KLmHeadTests
{
    private static readonly SessionOptions s_two = new() { Threads = 2 };

    private static IEnumerable<Fixture> Packed => [Fixture.TinyPacked, new("bitnet-small", "packed", "reference-packed.safetensors")];

    [TestCaseSource(nameof(Packed))]
    public void Q6KHead_IsTheFloatHeadWithinQ8KRounding(Fixture fixture)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"bitnet-q6k-head-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string q6k = Path.Combine(dir, "q6k.gguf"), f32 = Path.Combine(dir, "f32.gguf");
            using (var file = BitNetModelFile.Open(fixture.Path))
                GgufModelWriter.Write(file, q6k, new GgufModelWriterOptions { EmbeddingType = EmbeddingType.Q6_K });
            int vocab, hidden;
            float[] w;
            using (var g = GgufFile.Open(q6k))
            {
                var t = g["token_embd.weight"];
                (hidden, vocab) = ((int)t.Dimensions[0], (int)t.Dimensions[1]);
                w = EmbeddingVariants.Dequantize(BnDtype.Q6K, g.GetTensorBytes(t).ToArray(), vocab, hidden);
            }
            var wBytes = new byte[w.Length * 4];
            Buffer.BlockCopy(w, 0, wBytes, 0, wBytes.Length);
            EmbeddingVariants.WithEmbedding(q6k, f32, GgufTypes.F32, wBytes);

            using var reference = fixture.OpenReference();
            int[] ids = Fixture.Ids(reference, "input_ids");
            using var a = BitNetModel.Load(q6k);
            using var b = BitNetModel.Load(f32);
            using var sa = a.CreateSession(s_two);
            using var sb = b.CreateSession(s_two);
            int n = ids.Length, layers = a.Config.LayerCount;
            Assert.That((a.Config.HiddenSize, a.Config.VocabSize), Is.EqualTo((hidden, vocab)));
            var got = new float[n * vocab];
            var want = new float[n * vocab];
            var ha = new float[sa.HiddenStatesLength(n)];
            var hb = new float[sb.HiddenStatesLength(n)];
            sa.Forward(ids, got, LogitsMode.All, ha);
            sb.Forward(ids, want, LogitsMode.All, hb);
            Assert.That(ha, Is.EqualTo(hb), "the Q6_K lookup and the F32 table of its dequantization give the same hidden states");

            // the final norm's output: what the LM head multiplies
            ReadOnlySpan<float> h = ha.AsSpan(layers * n * hidden, n * hidden);
            double worst = 0, maxAbs = 0, maxDiff = 0;
            int over = 0;
            for (int t = 0; t < n; t++)
            {
                ReadOnlySpan<float> x = h.Slice(t * hidden, hidden);
                var d8 = new double[hidden / 256];
                for (int blk = 0; blk < d8.Length; blk++)
                {
                    float amax = 0;
                    foreach (float v in x.Slice(256 * blk, 256)) amax = MathF.Max(amax, MathF.Abs(v));
                    d8[blk] = amax / 127.0;
                }
                for (int r = 0; r < vocab; r++)
                {
                    ReadOnlySpan<float> row = w.AsSpan(r * hidden, hidden);
                    double bound = 0, mag = 0;
                    for (int i = 0; i < hidden; i++)
                    {
                        bound += Math.Abs(row[i]) * d8[i / 256] * (0.5 + 1e-4);
                        mag += Math.Abs((double)x[i] * row[i]);
                    }
                    bound += 1e-4 * mag;
                    double diff = Math.Abs((double)got[t * vocab + r] - want[t * vocab + r]);
                    worst = Math.Max(worst, diff / bound);
                    maxDiff = Math.Max(maxDiff, diff);
                    maxAbs = Math.Max(maxAbs, Math.Abs(want[t * vocab + r]));
                    if (diff > bound) over++;
                }
            }
            TestContext.Out.WriteLine($"{fixture}: max |integer - float head| {maxDiff:g3} (max |logit| {maxAbs:g3}), worst {worst:F3} of the Q8_K bound");
            Assert.That(maxAbs, Is.GreaterThan(0.1), "logits are not all ~0");
            // two float heads differ only in summation order (~1e-6 of a logit here); rounding h to 8 bits moves
            // logits by ~1e-2
            Assert.That(maxDiff, Is.GreaterThan(1e-3), "the Q6_K model ran the integer head, not the float one");
            Assert.That(over, Is.EqualTo(0), $"{over} logits outside the Q8_K rounding bound (worst {worst:F3} of it)");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
