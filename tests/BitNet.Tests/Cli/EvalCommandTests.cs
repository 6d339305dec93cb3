using System.Globalization;
using System.Text.Json;
using BitNet.Cli;
using BitNet.Models;
using BitNet.Tokenization;
using BitNet.Tests.Inference;

namespace BitNet.Tests.Cli;

/// <summary>`bitnet eval`: perplexity on the tiny fixture equals exp of the mean cross-entropy computed here from the
/// logits that `bitnet logits` writes for the same windows.</summary>
public sealed class EvalCommandTests
{
    private string _temp = null!;

    [SetUp]
    public void CreateTemp()
    {
        _temp = Path.Combine(Path.GetTempPath(), "bitnet-cli-eval-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_temp);
    }

    [TearDown]
    public void DeleteTemp()
    {
        if (Directory.Exists(_temp)) Directory.Delete(_temp, recursive: true);
    }

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    /// <summary>Mean −log softmax[target] over windows of <paramref name="seqLen"/> with stride seqLen, from logits
    /// written by `bitnet logits` (one call per window, each from an empty cache).</summary>
    private double ReferenceLoss(string model, int[] ids, int seqLen)
    {
        double sum = 0;
        int count = 0;
        for (int start = 0; start + 1 < ids.Length; start += seqLen)
        {
            int n = Math.Min(seqLen, ids.Length - 1 - start);
            string file = Path.Combine(_temp, $"logits-{start}.safetensors");
            var r = Run("logits", "-m", model, "--ids", string.Join(',', ids.Skip(start).Take(n)), "-o", file);
            Assert.That(r.Exit, Is.EqualTo(0), r.Err);
            using var st = SafetensorsFile.Open(file);
            float[] logits = st.ReadSingles("logits");
            int vocab = logits.Length / n;
            for (int i = 0; i < n; i++)
            {
                var row = logits.AsSpan(i * vocab, vocab);
                double max = double.NegativeInfinity;
                foreach (float x in row) max = Math.Max(max, x);
                double z = 0;
                foreach (float x in row) z += Math.Exp(x - max);
                sum += max + Math.Log(z) - row[ids[start + i + 1]];
                count++;
            }
        }
        return sum / count;
    }

    [TestCase(16, 1)]
    [TestCase(40, 3)]
    public void PerplexityIsExpOfTheMeanCrossEntropyOfTheLogits(int seqLen, int batch)
    {
        string model = Fixture.TinyMaster.Path;
        string text = string.Join('\n', File.ReadLines(Path.Combine(RepositoryPaths.Root, "tests", "BitNet.Tests", "Training", "genesis-1-4.txt")).Take(4));
        string data = Path.Combine(_temp, "data.txt");
        File.WriteAllText(data, text);
        var tokenizer = BpeTokenizer.FromFile(Path.Combine(model, "tokenizer.json"));
        int[] ids = tokenizer.Encode(text, new EncodeOptions { AddBos = true });
        double expected = ReferenceLoss(model, ids, seqLen);

        var r = Run("eval", "-m", model, "--data", data, "--seq-len", seqLen.ToString(CultureInfo.InvariantCulture),
            "--batch", batch.ToString(CultureInfo.InvariantCulture), "--json");
        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("model").GetString(), Is.EqualTo(model));
            Assert.That(root.GetProperty("tokens").GetInt64(), Is.EqualTo(ids.Length - 1));
            Assert.That(root.GetProperty("loss").GetDouble(), Is.EqualTo(expected).Within(1e-4));
            Assert.That(root.GetProperty("perplexity").GetDouble(), Is.EqualTo(Math.Exp(expected)).Within(1e-4).Percent);
            // random weights over a 512-token vocabulary: near-uniform, far from a trained model
            Assert.That(expected, Is.GreaterThan(3.0));
        });

        var plain = Run("eval", "-m", model, "--data", data, "--seq-len", seqLen.ToString(CultureInfo.InvariantCulture));
        Assert.That(plain.Exit, Is.EqualTo(0), plain.Err);
        string line = plain.Out.Split('\n').Single(l => l.StartsWith("perplexity: ", StringComparison.Ordinal));
        Assert.That(double.Parse(line["perplexity: ".Length..], CultureInfo.InvariantCulture), Is.EqualTo(Math.Exp(expected)).Within(1e-3).Percent);
    }

    [Test]
    public void BadInputGivesOneErrorLine()
    {
        string model = Fixture.TinyMaster.Path;
        string data = Path.Combine(_temp, "data.txt");
        File.WriteAllText(data, "In the beginning");
        foreach (var (args, contains) in new[]
                 {
                     (new[] { "eval", "-m", model, "--data", Path.Combine(_temp, "missing.txt") }, "--data"),
                     (new[] { "eval", "-m", model, "--data", data, "--seq-len", "100000" }, "--seq-len"),
                     (new[] { "eval", "-m", model, "--data", data, "--batch", "0" }, "--batch"),
                 })
        {
            var r = Run(args);
            Assert.That(r.Exit, Is.Not.EqualTo(0));
            string[] lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.That(lines, Has.Length.EqualTo(1), r.Err);
            Assert.That(lines[0], Does.StartWith("error: ").And.Contain(contains));
        }
    }
}
