using System.Globalization;
using System.Text.Json.Nodes;
using BitNet.Cli;
using BitNet.Inference;
using BitNet.Tokenization;

namespace BitNet.Tests.Cli;

/// <summary>`bitnet train --config`: a few steps of a small model on Genesis 1-4 through the in-process CLI (tokenizer
/// trained on the data, checkpoints, loss.png, validation lines, exports that load and generate, resume), and one
/// `error:` line naming the field for bad configs.</summary>
public sealed class TrainCommandTests
{
    private string _temp = null!;

    [SetUp]
    public void CreateTemp()
    {
        _temp = Path.Combine(Path.GetTempPath(), "bitnet-cli-train-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_temp);
        File.Copy(Path.Combine(RepositoryPaths.Root, "tests", "BitNet.Tests", "Training", "genesis-1-4.txt"), Path.Combine(_temp, "genesis.txt"));
    }

    [TearDown]
    public void DeleteTemp()
    {
        if (Directory.Exists(_temp)) Directory.Delete(_temp, recursive: true);
    }

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    /// <summary>A small model (hidden 64, 2 layers) on genesis.txt with a 384-token BPE trained on it; paths relative
    /// to the config's folder.</summary>
    private static JsonObject Config(int steps = 12) => new()
    {
        ["model"] = new JsonObject { ["hidden"] = 64, ["ffn"] = 128, ["layers"] = 2, ["heads"] = 2, ["kv_heads"] = 1, ["max_positions"] = 64 },
        ["data"] = new JsonObject { ["files"] = new JsonArray("genesis.txt"), ["tokenizer"] = new JsonObject { ["train_bpe"] = 384 }, ["validation_fraction"] = 0.1 },
        ["seq_len"] = 32,
        ["batch"] = 4,
        ["steps"] = steps,
        ["optimizer"] = new JsonObject { ["type"] = "adamw", ["beta2"] = 0.99 },
        ["lr"] = new JsonObject { ["type"] = "cosine", ["peak"] = 4e-3, ["warmup_steps"] = 2 },
        ["weight_decay"] = 0.01,
        ["eval_every"] = 4,
        ["eval_rows"] = 4,
        ["checkpoint_every"] = 6,
        ["out_dir"] = "run",
        ["seed"] = 3,
        ["threads"] = 2,
    };

    private string Write(JsonObject config, string name = "train.json")
    {
        string path = Path.Combine(_temp, name);
        File.WriteAllText(path, config.ToJsonString());
        return path;
    }

    private static double Value(string stdout, string key)
    {
        string line = stdout.Split('\n').Single(l => l.StartsWith(key + ": ", StringComparison.Ordinal));
        return double.Parse(line[(key.Length + 2)..].Split(' ')[0], CultureInfo.InvariantCulture);
    }

    [Test]
    public void TrainsWritesCheckpointsPlotAndExportsThatGenerate()
    {
        JsonObject config = Config();
        // TQ2_0 rows are blocks of 256 weights
        config["model"] = new JsonObject { ["hidden"] = 256, ["ffn"] = 512, ["layers"] = 2, ["heads"] = 4, ["kv_heads"] = 2, ["max_positions"] = 64 };
        config["export"] = new JsonObject { ["hf_packed"] = "packed", ["gguf"] = "model.gguf" };
        var r = Run("train", "--config", Write(config));
        Assert.That(r.Exit, Is.EqualTo(0), r.Err);

        string run = Path.Combine(_temp, "run");
        Assert.Multiple(() =>
        {
            Assert.That(File.Exists(Path.Combine(run, "checkpoint-00000006.safetensors")), Is.True);
            Assert.That(File.Exists(Path.Combine(run, "checkpoint-00000012.safetensors")), Is.True);
            Assert.That(r.Err, Does.Contain("step 4: val_loss ").And.Contain("step 12: val_loss "));
            Assert.That(r.Err, Does.Contain("step 1/12: loss "));
            Assert.That(Value(r.Out, "steps"), Is.EqualTo(12));
        });

        // loss.png: a PNG (signature, IHDR of the size drawn) with more than a blank image's bytes
        byte[] png = File.ReadAllBytes(Path.Combine(run, "loss.png"));
        Assert.That(png.Take(8), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }));
        Assert.That(System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), Is.EqualTo(900), "width");
        Assert.That(png, Has.Length.GreaterThan(10_000));
        Assert.That(Directory.GetFiles(run, "*.tmp*"), Is.Empty, "no temporary files left");

        // the trained tokenizer sits beside the checkpoints and sets the vocabulary
        var tokenizer = BpeTokenizer.FromFile(Path.Combine(run, "tokenizer.json"));
        Assert.That(tokenizer.VocabSize, Is.EqualTo(384));

        // the loss fell from about ln(384) = 5.95
        double first = double.Parse(r.Err.Split('\n').First(l => l.StartsWith("step 1/12: loss ", StringComparison.Ordinal))
            .Split(' ')[3], CultureInfo.InvariantCulture);
        Assert.That(first, Is.GreaterThan(5.0).And.LessThan(7.0));
        Assert.That(Value(r.Out, "train_loss"), Is.LessThan(first - 0.3));

        foreach (string exported in new[] { Path.Combine(_temp, "packed"), Path.Combine(_temp, "model.gguf") })
        {
            using (var model = BitNetModel.Load(exported))
            {
                Assert.That(model.Config.VocabSize, Is.EqualTo(384));
                Assert.That(model.Tokenizer, Is.Not.Null);
            }
            var g = Run("generate", "-m", exported, "-p", "In the beginning", "-n", "8", "--temp", "0");
            Assert.That(g.Exit, Is.EqualTo(0), g.Err);
            Assert.That(g.Out.Trim(), Is.Not.Empty, exported);
        }

        // eval on the exported model reads the same data through the inference engine
        var e = Run("eval", "-m", Path.Combine(_temp, "packed"), "--data", Path.Combine(_temp, "genesis.txt"), "--seq-len", "32");
        Assert.That(e.Exit, Is.EqualTo(0), e.Err);
        Assert.That(Value(e.Out, "perplexity"), Is.LessThan(384));
    }

    [Test]
    public void ResumedRunEndsWhereTheUninterruptedOneDoes()
    {
        JsonObject config = Config(steps: 8);
        config["checkpoint_every"] = 4;
        var full = Run("train", "--config", Write(config));
        Assert.That(full.Exit, Is.EqualTo(0), full.Err);
        double loss = Value(full.Out, "train_loss");

        config["out_dir"] = "run2";
        string path = Write(config, "train2.json");
        var resumed = Run("train", "--config", path, "--resume", Path.Combine(_temp, "run", "checkpoint-00000004.safetensors"));
        Assert.That(resumed.Exit, Is.EqualTo(0), resumed.Err);
        Assert.That(resumed.Err, Does.Contain("resuming at step 4"));
        Assert.That(resumed.Err, Does.Not.Contain("step 1/8"));
        Assert.That(Value(resumed.Out, "train_loss"), Is.EqualTo(loss), "the same batches and weights as the uninterrupted run");
        Assert.That(File.Exists(Path.Combine(_temp, "run2", "checkpoint-00000008.safetensors")), Is.True);
        Assert.That(File.Exists(Path.Combine(_temp, "run2", "loss.png")), Is.True);

        // other text: the checkpoint's data cursor does not belong to it
        File.WriteAllText(Path.Combine(_temp, "other.txt"), File.ReadAllText(Path.Combine(_temp, "genesis.txt")) + "\nAmen.\n");
        config["data"]!["files"] = new JsonArray("other.txt");
        config["out_dir"] = "run3";
        var wrong = Run("train", "--config", Write(config, "train3.json"), "--resume", Path.Combine(_temp, "run", "checkpoint-00000004.safetensors"));
        Assert.That(wrong.Exit, Is.Not.EqualTo(0));
        Assert.That(wrong.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToArray(),
            Is.EqualTo(new[] { "error: --resume: the state belongs to other data (the token stream, sequence length or validation split differ)" }));
    }

    [Test]
    public void PublishedCliDrawsTheLossPlot()
    {
        // The NativeAOT binary loads SkiaSharp's native library from beside itself (./build.sh copies it there).
        string exe = RepositoryPaths.PublishedCli;
        if (!File.Exists(exe)) Assert.Ignore($"{exe} does not exist: ./build.sh publishes the NativeAOT CLI there");
        using (var probe = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(exe, "train") { RedirectStandardOutput = true, RedirectStandardError = true })!)
        {
            Task<string> probeOut = probe.StandardOutput.ReadToEndAsync();
            string probeErr = probe.StandardError.ReadToEnd();
            probe.WaitForExit();
            _ = probeOut.Result;
            if (probeErr.Contains("argument 'train'", StringComparison.OrdinalIgnoreCase))
                Assert.Ignore($"{exe} predates `bitnet train`: ./build.sh publish updates it");
        }
        var start = new System.Diagnostics.ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _temp,
        };
        foreach (string a in new[] { "train", "--config", Write(Config(steps: 3)) }) start.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(start)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        Assert.That(p.WaitForExit(120_000), Is.True, "bitnet train finished within two minutes");
        Assert.That(p.ExitCode, Is.EqualTo(0), stderr.Result);
        Assert.That(stderr.Result, Does.Not.Contain("warning:"));
        Assert.That(stdout.Result, Does.Contain("loss_plot: "));
        byte[] png = File.ReadAllBytes(Path.Combine(_temp, "run", "loss.png"));
        Assert.That(png.Take(4), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }));
    }

    private static IEnumerable<TestCaseData> BadConfigs()
    {
        TestCaseData Case(string field, Action<JsonObject> edit) => new TestCaseData(field, edit).SetName($"BadConfig_{field.Replace('.', '_')}");
        yield return Case("steps", c => c.Remove("steps"));
        yield return Case("batch", c => c["batch"] = 0);
        yield return Case("lerning_rate", c => c["lerning_rate"] = 0.1);
        yield return Case("data.files[0]", c => c["data"]!["files"] = new JsonArray("missing.txt"));
        yield return Case("data.tokenizer.train_bpe", c => c["data"]!["tokenizer"] = new JsonObject { ["train_bpe"] = 100 });
        yield return Case("data.tokenizer", c => c["data"]!["tokenizer"] = "nosuch/tokenizer.json");
        yield return Case("model.heads", c => c["model"]!["heads"] = 3);
        yield return Case("model.activation", c => c["model"]!["activation"] = "gelu");
        yield return Case("optimizer.type", c => c["optimizer"] = new JsonObject { ["type"] = "adam" });
        yield return Case("lr.peak", c => c["lr"] = new JsonObject { ["type"] = "cosine" });
        yield return Case("seq_len", c => c["seq_len"] = 128);
        yield return Case("data.validation_fraction", c => c["data"]!["validation_fraction"] = 1.5);
        yield return Case("out_dir", c => c.Remove("out_dir"));
        yield return Case("export.gguf_type", c => c["export"] = new JsonObject { ["gguf"] = "m.gguf" }); // hidden 64: not TQ2_0 blocks
        yield return Case("export.bogus", c => c["export"] = new JsonObject { ["bogus"] = "x" });
    }

    [TestCaseSource(nameof(BadConfigs))]
    public void BadConfigGivesOneErrorLineNamingTheField(string field, Action<JsonObject> edit)
    {
        JsonObject config = Config();
        edit(config);
        var r = Run("train", "--config", Write(config));
        Assert.Multiple(() =>
        {
            Assert.That(r.Exit, Is.Not.EqualTo(0));
            Assert.That(r.Out, Is.Empty);
            string[] lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.That(lines, Has.Length.EqualTo(1), r.Err);
            Assert.That(lines.FirstOrDefault(), Does.StartWith("error: train.json: " + field + ":"));
        });
        Assert.That(Directory.Exists(Path.Combine(_temp, "run")), Is.False, "nothing written");
    }

    [Test]
    public void NotJsonAndMissingFileAreOneLine()
    {
        string path = Path.Combine(_temp, "train.json");
        File.WriteAllText(path, "{ \"steps\": ");
        var r = Run("train", "--config", path);
        Assert.That(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(1));
        Assert.That(r.Err, Does.StartWith("error: train.json: not valid JSON"));
        var missing = Run("train", "--config", Path.Combine(_temp, "nope.json"));
        Assert.That(missing.Err, Does.StartWith("error: --config: no such file"));
    }
}
