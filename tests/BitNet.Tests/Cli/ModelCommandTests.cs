using System.Runtime.InteropServices;
using System.Text.Json;
using BitNet.Cli;
using BitNet.Models;

namespace BitNet.Tests.Cli;

/// <summary>`bitnet tokenize` and `bitnet inspect` (CLI.md) through the in-process entry point, on the fixtures.</summary>
public sealed class ModelCommandTests
{
    private string _temp = null!;

    [SetUp]
    public void CreateTemp()
    {
        _temp = Path.Combine(Path.GetTempPath(), "bitnet-cli-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_temp);
    }

    [TearDown]
    public void DeleteTemp()
    {
        if (Directory.Exists(_temp)) Directory.Delete(_temp, recursive: true);
    }

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private static (string Text, int[] Ids) Reference()
    {
        using var reference = SafetensorsFile.Open(RepositoryPaths.Fixture("bitnet-tiny", "reference-master.safetensors"));
        return (reference.Metadata["text"], MemoryMarshal.Cast<byte, int>(reference.GetBytes("input_ids")).ToArray());
    }

    private static int[] ParseIds((int Exit, string Out, string Err) r) => ParseIds(r.Exit, r.Out, r.Err);

    private static int[] ParseIds(int exit, string stdout, string stderr)
    {
        Assert.That(exit, Is.EqualTo(0), stderr);
        Assert.That(stderr, Is.Empty);
        Assert.That(stdout.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), "one line on stdout");
        using var doc = JsonDocument.Parse(stdout);
        return doc.RootElement.EnumerateArray().Select(e => e.GetInt32()).ToArray();
    }

    private static void AssertOneErrorLine(int exit, string stdout, string stderr, string contains)
    {
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(ExitCodes.Failure));
            Assert.That(stdout, Is.Empty);
            string[] lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.That(lines, Has.Length.EqualTo(1), stderr);
            Assert.That(lines.FirstOrDefault(), Does.StartWith("error: ").And.Contain(contains));
        });
    }

    [Test]
    public void TokenizeGivesTheReferenceInputIds()
    {
        var (text, ids) = Reference();
        string folder = RepositoryPaths.Fixture("bitnet-tiny", "master");
        Assert.That(ParseIds(Run("tokenize", "-m", folder, "--add-bos", "--", text)), Is.EqualTo(ids));
        // a bare tokenizer.json, no BOS by default; the printed form is CLI.md's
        var (exit, stdout, stderr) = Run("tokenize", "-m", Path.Combine(folder, "tokenizer.json"), "--", text);
        Assert.That(ParseIds(exit, stdout, stderr), Is.EqualTo(ids[1..]));
        Assert.That(stdout, Is.EqualTo("[" + string.Join(", ", ids[1..]) + "]" + Environment.NewLine));
    }

    [Test]
    public void TokenizeFromGguf()
    {
        var (text, ids) = Reference();
        string gguf = Path.Combine(_temp, "tiny.gguf");
        using (var model = BitNetModelFile.Open(RepositoryPaths.Fixture("bitnet-tiny", "packed")))
            GgufModelWriter.Write(model, gguf);
        Assert.That(ParseIds(Run("tokenize", "-m", gguf, "--add-bos", "--", text)), Is.EqualTo(ids));
    }

    [Test]
    public void TokenizeParseSpecial()
    {
        string tok = RepositoryPaths.Fixture("bitnet-tiny", "packed", "tokenizer.json");
        int[] plain = ParseIds(Run("tokenize", "-m", tok, "--", "a<|end_of_text|>b"));
        int[] parsed = ParseIds(Run("tokenize", "-m", tok, "--parse-special", "--", "a<|end_of_text|>b"));
        Assert.That(plain, Has.No.Member(1));
        Assert.That(parsed, Has.Member(1));
        Assert.That(parsed, Has.Length.LessThan(plain.Length));
        Assert.That(ParseIds(Run("tokenize", "-m", tok, "--", "--add-bos")), Has.No.Member(0), "after --, option-like text is text");
    }

    [Test]
    public void TokenizeErrors()
    {
        var (exit, stdout, stderr) = Run("tokenize", "-m", Path.Combine(_temp, "nope"), "--", "x");
        AssertOneErrorLine(exit, stdout, stderr, "nope");
        Directory.CreateDirectory(Path.Combine(_temp, "empty"));
        (exit, stdout, stderr) = Run("tokenize", "-m", Path.Combine(_temp, "empty"), "--", "x");
        AssertOneErrorLine(exit, stdout, stderr, "no tokenizer.json");
    }

    [Test]
    public void InspectJson()
    {
        string folder = RepositoryPaths.Fixture("bitnet-tiny", "packed");
        var (exit, stdout, stderr) = Run("inspect", folder, "--json");
        Assert.That(exit, Is.EqualTo(0), stderr);
        using var doc = JsonDocument.Parse(stdout);
        JsonElement r = doc.RootElement, c = r.GetProperty("config");
        var tensors = r.GetProperty("tensors").EnumerateArray().ToList();
        JsonElement q = tensors.Single(t => t.GetProperty("name").GetString() == "model.layers.0.self_attn.q_proj.weight");
        Assert.Multiple(() =>
        {
            Assert.That(r.GetProperty("format").GetString(), Is.EqualTo("huggingface"));
            Assert.That(c.GetProperty("hidden_size").GetInt32(), Is.EqualTo(256));
            Assert.That(c.GetProperty("num_key_value_heads").GetInt32(), Is.EqualTo(2));
            Assert.That(c.GetProperty("rope_theta").GetSingle(), Is.EqualTo(500000f));
            Assert.That(c.GetProperty("hidden_act").GetString(), Is.EqualTo("relu2"));
            Assert.That(c.GetProperty("linear_class").GetString(), Is.EqualTo("autobitlinear"));
            Assert.That(tensors, Has.Count.EqualTo(2 * 7 * 2 + 2 * 4 + 2), "7 weights + 7 scales + 4 norms per layer, embedding, final norm");
            Assert.That(q.GetProperty("type").GetString(), Is.EqualTo("U8"));
            Assert.That(q.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()), Is.EqualTo(new long[] { 64, 256 }));
            Assert.That(q.GetProperty("bytes").GetInt64(), Is.EqualTo(64 * 256));
            Assert.That(r.GetProperty("total_bytes").GetInt64(), Is.EqualTo(tensors.Sum(t => t.GetProperty("bytes").GetInt64())));
            Assert.That(r.GetProperty("tokenizer").GetProperty("bos_id").GetInt32(), Is.EqualTo(0));
            Assert.That(stderr, Is.Empty);
        });
    }

    [Test]
    public void InspectGgufTables()
    {
        string gguf = Path.Combine(_temp, "tiny.gguf");
        using (var model = BitNetModelFile.Open(RepositoryPaths.Fixture("bitnet-tiny", "packed")))
            GgufModelWriter.Write(model, gguf, new GgufModelWriterOptions { TernaryType = TernaryFileType.TQ1_0 });
        var (exit, stdout, stderr) = Run("inspect", gguf);
        Assert.That(exit, Is.EqualTo(0), stderr);
        Assert.Multiple(() =>
        {
            Assert.That(stdout, Does.Contain("blk.0.attn_k.weight").And.Contain("TQ1_0").And.Contain("[128, 256]"));
            Assert.That(stdout, Does.Contain("bitnet.hidden_activation").And.Contain("relu2"));
            Assert.That(stdout, Does.Contain("gguf"));
            // ordinal: a culture-aware Contains ignores the control character ESC and matches any "["
            Assert.That(stdout.Contains('\u001b', StringComparison.Ordinal), Is.False, "no ANSI codes into a writer that is not a terminal");
        });
    }

    [Test]
    public void InspectBrokenModel()
    {
        Directory.CreateDirectory(Path.Combine(_temp, "m"));
        File.Copy(RepositoryPaths.Fixture("bitnet-tiny", "packed", "model.safetensors"), Path.Combine(_temp, "m", "model.safetensors"));
        var (exit, stdout, stderr) = Run("inspect", Path.Combine(_temp, "m"));
        AssertOneErrorLine(exit, stdout, stderr, "missing config.json");
    }
}
