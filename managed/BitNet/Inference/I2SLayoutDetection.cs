using BitNet.Models;
using BitNet.Quantization;
using BitNet.Tokenization;

namespace BitNet.Inference;

/// <summary>Where <see cref="I2SLayoutDecision.Layout"/> came from.</summary>
public enum I2SLayoutSource
{
    /// <summary>The caller's <see cref="ModelLoadOptions.I2SLayout"/>.</summary>
    Given,
    /// <summary>The probe: one reading predicted the probe text clearly better.</summary>
    Detected,
    /// <summary>The host's layout, because the probe could not decide (random weights, no tokenizer).</summary>
    HostDefault,
}

/// <summary>How <see cref="BitNetModel.Load"/> settled the layout of a GGUF file's I2_S projections, which the file does
/// not record (bitnet.cpp writes its build's layout: x86 blocks of 128 weights, ARM blocks of 64).</summary>
/// <param name="Layout">The layout the model runs with.</param>
/// <param name="Source">Given by the caller, detected by the probe, or the host's because the probe could not decide
/// (see <paramref name="Reason"/>).</param>
/// <param name="LossX86">Mean next-token cross-entropy (nats) of the probe text read as x86, when probed.</param>
/// <param name="LossArm">The same read as ARM.</param>
/// <param name="Reason">One line for a log: what was decided and why.</param>
public sealed record I2SLayoutDecision(PackedFormat Layout, I2SLayoutSource Source, double? LossX86, double? LossArm, string Reason)
{
    /// <summary>The <see cref="Reason"/>.</summary>
    public override string ToString() => Reason;
}

/// <summary>
/// Tells the two I2_S layouts apart by running the model: read in the wrong layout every projection's weights are
/// permuted within blocks, so the model predicts text no better than chance (cross-entropy near ln(vocab)), while
/// the right layout gives a trained model's loss. A fixed English probe text goes through the host's reading; when that
/// predicts it well (<see cref="PredictsWell"/>) it is taken, else through the other reading too, and the one whose mean
/// next-token loss is lower by at least <see cref="Margin"/> wins. A model that predicts neither (random weights) or a
/// file without a tokenizer keeps the host's layout, and the decision says so.
/// </summary>
internal static class I2SLayoutProbe
{
    /// <summary>The probe: plain, predictable English (a trained model's loss on it is a few nats per token).</summary>
    internal const string Text =
        "The United States of America is a country in North America. Its capital is Washington, D.C., and its largest " +
        "city is New York. The country has fifty states and a population of more than three hundred million people. " +
        "English is the most widely spoken language.";

    /// <summary>Nats per token by which one reading must beat the other to be taken.</summary>
    internal const double Margin = 0.5;

    /// <summary>Builds the model in the layout the probe picks; <paramref name="file"/> is the file read in the host's
    /// layout (<see cref="BitNetModelFile.I2SLayoutAssumed"/>), owned by the result or disposed.</summary>
    internal static BitNetModel Load(BitNetModelFile file, string path, ModelOptions options,
                                     Func<BitNetModelFile, BitNetModel> build)
    {
        PackedFormat host = file.I2SLayout!;
        PackedFormat other = host == PackedFormat.I2SX86 ? PackedFormat.I2SArm : PackedFormat.I2SX86;
        int[]? tokens = options.I2SProbeTokens?.ToArray() ?? ProbeTokens(file, path);
        BitNetModel first = build(file);
        if (tokens is null)
        {
            first.I2SLayout = new I2SLayoutDecision(host, I2SLayoutSource.HostDefault, null, null,
                $"I2_S layout: {Name(host)} (this machine's); the file does not record it and has no tokenizer to probe " +
                "with (pass the layout to choose)");
            return first;
        }
        BitNetModel? keep = null, live = first;
        try
        {
            double lossHost = Loss(first, tokens);
            if (PredictsWell(lossHost, first.Config.VocabSize))
            {
                double? hx86 = host == PackedFormat.I2SX86 ? lossHost : null, harm = host == PackedFormat.I2SX86 ? null : lossHost;
                first.I2SLayout = new I2SLayoutDecision(host, I2SLayoutSource.Detected, hx86, harm,
                    $"I2_S layout: {Name(host)} (detected: probe loss {lossHost:F2} nats/token, under half of chance " +
                    $"ln({first.Config.VocabSize}) = {Math.Log(first.Config.VocabSize):F2}; {Name(other)} not tried)");
                return first;
            }
            // One model at a time, so that probing costs no more memory than running: the host's reading goes before the
            // other is built, and is built again if it wins (a load's time, against a second copy of the weights).
            first.Dispose();
            live = null;
            ReturnGarbage();
            keep = build(BitNetModelFile.Open(path, options.FileOptions with { I2SLayout = other }));
            double lossOther = Loss(keep, tokens);
            (double x86, double arm) = host == PackedFormat.I2SX86 ? (lossHost, lossOther) : (lossOther, lossHost);
            string losses = $"probe loss {x86:F2} nats/token as x86, {arm:F2} as ARM";
            I2SLayoutDecision decision;
            if (lossOther + Margin <= lossHost)
            {
                decision = new I2SLayoutDecision(other, I2SLayoutSource.Detected, x86, arm, $"I2_S layout: {Name(other)} (detected: {losses})");
            }
            else
            {
                keep.Dispose();
                keep = null;
                ReturnGarbage();
                keep = build(BitNetModelFile.Open(path, options.FileOptions with { I2SLayout = host }));
                decision = lossHost + Margin <= lossOther
                    ? new I2SLayoutDecision(host, I2SLayoutSource.Detected, x86, arm, $"I2_S layout: {Name(host)} (detected: {losses})")
                    : new I2SLayoutDecision(host, I2SLayoutSource.HostDefault, x86, arm,
                        $"I2_S layout: {Name(host)} (this machine's); the probe cannot tell the layouts apart ({losses}, " +
                        $"margin {Margin}): random weights? pass the layout to choose");
            }
            keep.I2SLayout = decision;
            return keep;
        }
        catch
        {
            live?.Dispose();
            keep?.Dispose();
            throw;
        }
    }

    /// <summary>Whether a reading predicts the probe so well (under half the loss of a uniform guess, ln(vocab)) that it
    /// is the right one without trying the other: weights read in the wrong layout are permuted within blocks and predict
    /// text at about chance. This spares the second build (for 2B4T, a 0.5 GB converted copy) in the common case of a
    /// trained model in the host's layout.</summary>
    internal static bool PredictsWell(double loss, int vocab) => loss <= Math.Log(vocab) / 2;

    private static string Name(PackedFormat layout) => layout == PackedFormat.I2SX86 ? "x86" : "ARM";

    // bos + the probe text, cut to the model's context; the tokenizer is read here when the caller skipped it
    private static int[]? ProbeTokens(BitNetModelFile file, string path)
    {
        BpeTokenizer? tok = file.Tokenizer;
        if (tok is null)
        {
            try
            {
                tok = BitNetModelFile.OpenTokenizer(path);
            }
            catch (ModelFormatException)
            {
                return null;
            }
        }
        var ids = new List<int>();
        if ((file.Config.BosTokenId ?? tok.BosId) is int bos) ids.Add(bos);
        ids.AddRange(tok.Encode(Text));
        int max = Math.Min(ids.Count, file.Config.MaxPositionEmbeddings);
        return max >= 2 ? ids.GetRange(0, max).ToArray() : null;
    }

    // mean next-token cross-entropy of tokens[1..] given the prefix, in nats
    // The probe's all-logits arrays (vocabulary x tokens floats) are garbage once read; returned to the OS before the next
    // build, they do not count on top of its weights (the process's peak resident memory).
    private static void ReturnGarbage() => GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    private static double Loss(BitNetModel model, int[] tokens)
    {
        using InferenceSession session = model.CreateSession(new SessionOptions { ContextSize = tokens.Length });
        float[] logits = session.Forward(tokens, LogitsMode.All);
        int v = model.Config.VocabSize;
        double sum = 0;
        for (int t = 0; t + 1 < tokens.Length; t++)
        {
            ReadOnlySpan<float> row = logits.AsSpan(t * v, v);
            float max = float.NegativeInfinity;
            foreach (float x in row) max = MathF.Max(max, x);
            double z = 0;
            foreach (float x in row) z += Math.Exp(x - max);
            sum += Math.Log(z) + max - row[tokens[t + 1]];
        }
        return sum / (tokens.Length - 1);
    }
}
