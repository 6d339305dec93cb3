using System.Text.Json;
using BitNet.Cli;
using BitNet.Tests.Inference;

namespace BitNet.Tests.Cli;

/// <summary>`bitnet bench` (CLI.md) through the in-process entry point, on the tiny packed fixture.</summary>
public sealed class BenchCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private static JsonElement ParseOneObject(string stdout)
    {
        Assert.That(stdout.Contains('\u001b', StringComparison.Ordinal), Is.False, "no ANSI codes on stdout");
        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(stdout));
        using JsonDocument doc = JsonDocument.ParseValue(ref reader);
        Assert.That(reader.Read(), Is.False, "nothing after the JSON object");
        Assert.That(doc.RootElement.ValueKind, Is.EqualTo(JsonValueKind.Object));
        return doc.RootElement.Clone();
    }

    [Test]
    public void Bench_Json_HasTheContractFields()
    {
        var r = Run("bench", "-m", Fixture.TinyPacked.Path, "-p", "8", "-n", "4", "--repetitions", "2", "--threads", "1", "--json");
        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        JsonElement o = ParseOneObject(r.Out);
        Assert.Multiple(() =>
        {
            Assert.That(o.GetProperty("model").GetString(), Is.EqualTo(Fixture.TinyPacked.Path));
            Assert.That(o.GetProperty("threads").GetInt32(), Is.EqualTo(1));
            Assert.That(o.GetProperty("n_prompt").GetInt32(), Is.EqualTo(8));
            Assert.That(o.GetProperty("n_gen").GetInt32(), Is.EqualTo(4));
            Assert.That(o.GetProperty("prefill_tok_s").GetDouble(), Is.GreaterThan(0));
            Assert.That(o.GetProperty("decode_tok_s").GetDouble(), Is.GreaterThan(0));
            Assert.That(o.GetProperty("prefill_tok_s_stddev").GetDouble(), Is.GreaterThanOrEqualTo(0));
            Assert.That(o.GetProperty("decode_tok_s_stddev").GetDouble(), Is.GreaterThanOrEqualTo(0));
            Assert.That(o.GetProperty("prefill_tok_s_samples").GetArrayLength(), Is.EqualTo(2));
            Assert.That(o.GetProperty("decode_tok_s_samples").GetArrayLength(), Is.EqualTo(2));
            Assert.That(o.GetProperty("weight_bytes").GetInt64(), Is.GreaterThan(0));
            if (OperatingSystem.IsLinux()) Assert.That(o.GetProperty("peak_rss_bytes").GetInt64(), Is.GreaterThan(0));
            // the floor: this run's read bandwidth, read after each repetition, over the bytes a decode step reads;
            // each repetition's decode as a fraction of its own floor, and the medians (two samples: their mean)
            long weights = o.GetProperty("weight_bytes").GetInt64();
            double[] readings = [.. o.GetProperty("read_bandwidth_gb_s_samples").EnumerateArray().Select(e => e.GetDouble())];
            double[] fractions = [.. o.GetProperty("decode_floor_fraction_samples").EnumerateArray().Select(e => e.GetDouble())];
            double[] decode = [.. o.GetProperty("decode_tok_s_samples").EnumerateArray().Select(e => e.GetDouble())];
            Assert.That(readings, Has.Length.EqualTo(2).And.All.GreaterThan(0.1));
            Assert.That(fractions, Has.Length.EqualTo(2));
            for (int i = 0; i < 2; i++)
                Assert.That(fractions[i], Is.EqualTo(decode[i] / (readings[i] * 1e9 / weights)).Within(1e-9).Percent);
            double gbs = o.GetProperty("read_bandwidth_gb_s").GetDouble();
            Assert.That(gbs, Is.EqualTo((readings[0] + readings[1]) / 2).Within(1e-9).Percent);
            Assert.That(o.GetProperty("bandwidth_floor_tok_s").GetDouble(), Is.EqualTo(gbs * 1e9 / weights).Within(1e-9).Percent);
            Assert.That(o.GetProperty("decode_floor_fraction").GetDouble(),
                Is.EqualTo((fractions[0] + fractions[1]) / 2).Within(1e-9).Percent);
        });
    }

    [Test]
    public void Bench_PromptZero_SkipsPrefill()
    {
        var r = Run("bench", "-m", Fixture.TinyPacked.Path, "-p", "0", "-n", "4", "--repetitions", "1", "--json", "--no-floor");
        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        JsonElement o = ParseOneObject(r.Out);
        Assert.Multiple(() =>
        {
            Assert.That(o.GetProperty("bandwidth_floor_tok_s").ValueKind, Is.EqualTo(JsonValueKind.Null), "--no-floor skips the floor");
            Assert.That(o.GetProperty("n_prompt").GetInt32(), Is.EqualTo(0));
            Assert.That(o.GetProperty("prefill_tok_s").GetDouble(), Is.EqualTo(0));
            Assert.That(o.GetProperty("prefill_tok_s_samples").GetArrayLength(), Is.EqualTo(0));
            Assert.That(o.GetProperty("decode_tok_s").GetDouble(), Is.GreaterThan(0));
        });
    }

    [Test]
    public void Bench_Table_IsMarkdown()
    {
        var r = Run("bench", "-m", Fixture.TinyPacked.Path, "-p", "8", "-n", "4", "--repetitions", "1");
        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        Assert.That(r.Out, Does.Contain("| pp8 |").And.Contain("| tg4 |").And.Contain("bandwidth floor"));
        Assert.That(r.Out.Contains('\u001b', StringComparison.Ordinal), Is.False, "no ANSI codes");
    }

    [TestCase("-p", "-1")]
    [TestCase("-n", "-2")]
    [TestCase("--repetitions", "0")]
    [TestCase("--threads", "0")]
    [TestCase("--no-such-option", "1")]
    public void Bench_BadOption_OneErrorLine(string option, string value)
    {
        var r = Run("bench", "-m", Fixture.TinyPacked.Path, option, value, "--json");
        Assert.Multiple(() =>
        {
            Assert.That(r.Exit, Is.Not.EqualTo(0));
            Assert.That(r.Out, Is.Empty);
            string[] lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.That(lines, Has.Length.EqualTo(1), r.Err);
            Assert.That(lines.FirstOrDefault(), Does.StartWith("error: "));
        });
    }

    [Test]
    public void Bench_MissingModel_OneErrorLine()
    {
        var r = Run("bench", "-m", "/nonexistent/model.gguf", "--json");
        Assert.That(r.Exit, Is.Not.EqualTo(0));
        Assert.That(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(1), r.Err);
        Assert.That(r.Err, Does.StartWith("error: "));
    }
}
