using System.Runtime.InteropServices;
using BitNet.Inference;
using BitNet.Models;

namespace BitNet.Tests.Inference;

/// <summary>A fixture model folder with its reference file, and the README's tolerance checks.</summary>
public sealed record Fixture(string Model, string Folder, string Reference)
{
    public static IEnumerable<Fixture> All =>
    [
        new("bitnet-tiny", "master", "reference-master.safetensors"),
        new("bitnet-tiny", "packed", "reference-packed.safetensors"),
        new("bitnet-small", "packed", "reference-packed.safetensors"),
    ];

    public static Fixture TinyMaster => new("bitnet-tiny", "master", "reference-master.safetensors");

    public static Fixture TinyPacked => new("bitnet-tiny", "packed", "reference-packed.safetensors");

    public string Path => RepositoryPaths.Fixture(Model, Folder);

    public SafetensorsFile OpenReference() => SafetensorsFile.Open(RepositoryPaths.Fixture(Model, Reference));

    public override string ToString() => $"{Model}/{Folder}";

    public static int[] Ids(SafetensorsFile f, string name) => MemoryMarshal.Cast<byte, int>(f.GetBytes(name)).ToArray();
}

/// <summary>README "Tolerances": logits, hidden states and greedy decoding.</summary>
internal static class Tolerances
{
    public sealed record LogitsReport(double MeanKl, double MaxAbs, int Top1Checked, int Top1Equal, int Rows)
    {
        public override string ToString() => $"rows {Rows} max|dlogit| {MaxAbs:F4} mean KL {MeanKl:G3} top-1 {Top1Equal}/{Top1Checked}";
    }

    /// <summary>Compares (rows, vocab) logits; fails unless mean KL ≤ 1e-3, max |Δ| ≤ 0.25 and top-1 equal where the
    /// reference's top-2 margin exceeds 0.1.</summary>
    public static LogitsReport AssertLogits(ReadOnlySpan<float> reference, ReadOnlySpan<float> ours, int vocab, string what)
    {
        Assert.That(ours.Length, Is.EqualTo(reference.Length), $"{what}: length");
        int rows = reference.Length / vocab;
        double klSum = 0, maxAbs = 0;
        int topChecked = 0, topEqual = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> a = reference.Slice(r * vocab, vocab), b = ours.Slice(r * vocab, vocab);
            double lseA = LogSumExp(a), lseB = LogSumExp(b), kl = 0;
            for (int i = 0; i < vocab; i++)
            {
                double la = a[i] - lseA, lb = b[i] - lseB;
                kl += Math.Exp(la) * (la - lb);
                maxAbs = Math.Max(maxAbs, Math.Abs(a[i] - b[i]));
            }
            klSum += kl;
            (int best, double margin) = Top(a);
            if (margin > 0.1)
            {
                topChecked++;
                if (Top(b).Best == best) topEqual++;
            }
        }
        var report = new LogitsReport(klSum / rows, maxAbs, topChecked, topEqual, rows);
        TestContext.Out.WriteLine($"{what}: {report}");
        Assert.Multiple(() =>
        {
            Assert.That(report.MeanKl, Is.LessThanOrEqualTo(1e-3), $"{what}: mean KL");
            Assert.That(report.MaxAbs, Is.LessThanOrEqualTo(0.25), $"{what}: max |dlogit|");
            Assert.That(report.Top1Equal, Is.EqualTo(report.Top1Checked), $"{what}: top-1 where the reference margin > 0.1");
            Assert.That(report.Top1Checked, Is.GreaterThan(0), $"{what}: some rows have a clear top-1");
        });
        return report;
    }

    public static double MaxAbs(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.That(b.Length, Is.EqualTo(a.Length));
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    public static (int Best, double Margin) Top(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
            if (x[i] > x[best]) best = i;
        double second = double.NegativeInfinity;
        for (int i = 0; i < x.Length; i++)
            if (i != best && x[i] > second) second = x[i];
        return (best, x[best] - second);
    }

    private static double LogSumExp(ReadOnlySpan<float> x)
    {
        double max = double.NegativeInfinity;
        foreach (float v in x) max = Math.Max(max, v);
        double s = 0;
        foreach (float v in x) s += Math.Exp(v - max);
        return max + Math.Log(s);
    }

    /// <summary>Greedy decoding with the KV cache vs greedy_ids: equal token for token up to the first step where our
    /// own top-2 margin is below 0.1 (native/tests/test_model.c). Returns the leading matches.</summary>
    public static int AssertGreedy(InferenceSession session, int[] prompt, int[] want, string what)
    {
        Assert.That(want.AsSpan(0, prompt.Length).SequenceEqual(prompt), Is.True, "greedy_ids starts with the prompt");
        session.Reset();
        float[] logits = session.Forward(prompt, LogitsMode.Last);
        int steps = want.Length - prompt.Length, matched = 0, firstLow = -1, mismatch = -1;
        for (int step = 0; step < steps; step++)
        {
            (int best, double margin) = Top(logits);
            if (firstLow < 0 && margin < 0.1) firstLow = step;
            if (best != want[prompt.Length + step])
            {
                mismatch = step;
                break;
            }
            matched++;
            if (step + 1 < steps) logits = session.Forward([best], LogitsMode.Last);
        }
        TestContext.Out.WriteLine($"{what}: greedy {matched}/{steps} match (first low margin {firstLow}, first mismatch {mismatch})");
        Assert.That(mismatch < 0 || (firstLow >= 0 && firstLow <= mismatch), Is.True,
            $"{what}: greedy step {mismatch} differs from the reference while every margin up to it was >= 0.1");
        return matched;
    }
}
