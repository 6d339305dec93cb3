using BitNet.Cli;
using BitNet.Inference;
using BitNet.Models;
using BitNet.Tests.Inference;

namespace BitNet.Tests.Cli;

/// <summary>`bitnet logits` and `bitnet generate` (CLI.md) through the in-process entry point, on the fixtures.</summary>
public sealed class InferenceCommandTests
{
    private string _temp = null!;

    [SetUp]
    public void CreateTemp()
    {
        _temp = Path.Combine(Path.GetTempPath(), "bitnet-cli-inference-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_temp);
    }

    [TearDown]
    public void DeleteTemp()
    {
        if (Directory.Exists(_temp)) Directory.Delete(_temp, recursive: true);
    }

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private static void AssertOneErrorLine((int Exit, string Out, string Err) r, string contains)
    {
        Assert.Multiple(() =>
        {
            Assert.That(r.Exit, Is.Not.EqualTo(0));
            Assert.That(r.Out, Is.Empty);
            string[] lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.That(lines, Has.Length.EqualTo(1), r.Err);
            Assert.That(lines.FirstOrDefault(), Does.StartWith("error: ").And.Contain(contains));
        });
    }

    [Test]
    public void Logits_TinyMaster_MatchesReference_WithHiddenStates()
    {
        Fixture fixture = Fixture.TinyMaster;
        using var reference = fixture.OpenReference();
        int[] ids = Fixture.Ids(reference, "input_ids");
        string output = Path.Combine(_temp, "out.safetensors");
        var r = Run("logits", "-m", fixture.Path, "--ids", string.Join(',', ids), "-o", output, "--hidden-states");
        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        Assert.That(r.Out, Is.Empty, "results go to the file");
        Assert.That(Directory.GetFiles(_temp), Has.Length.EqualTo(1), "no temporary file left");
        using var got = SafetensorsFile.Open(output);
        Assert.That(got["logits"].Shape, Is.EqualTo(new long[] { ids.Length, 512 }));
        Assert.That(got["logits"].DType, Is.EqualTo(DType.F32));
        Tolerances.AssertLogits(reference.ReadSingles("logits"), got.ReadSingles("logits"), 512, "bitnet logits tiny/master");
        for (int l = 0; l <= 2; l++)
        {
            Assert.That(got[$"hidden_state.{l}"].Shape, Is.EqualTo(reference[$"hidden_state.{l}"].Shape));
            double err = Tolerances.MaxAbs(reference.ReadSingles($"hidden_state.{l}"), got.ReadSingles($"hidden_state.{l}"));
            Assert.That(err, Is.LessThanOrEqualTo(l <= 1 ? 1e-3 : 5e-2), $"hidden_state.{l}");
        }
        Assert.That(got.Contains("hidden_state.3"), Is.False);
    }

    [Test]
    public void Logits_Batch_IsBTV_AndMatchesReference()
    {
        Fixture fixture = Fixture.TinyPacked;
        using var reference = fixture.OpenReference();
        int[] ids = Fixture.Ids(reference, "batch_input_ids");
        int t = (int)reference["batch_input_ids"].Shape[1];
        string batch = string.Join(',', ids[..t]) + ";" + string.Join(',', ids[t..]);
        string output = Path.Combine(_temp, "batch.safetensors");
        var r = Run("logits", "-m", fixture.Path, "--ids", batch, "-o", output);
        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        using var got = SafetensorsFile.Open(output);
        Assert.That(got["logits"].Shape, Is.EqualTo(new long[] { 2, t, 512 }));
        Assert.That(got.Contains("hidden_state.0"), Is.False);
        Tolerances.AssertLogits(reference.ReadSingles("batch_logits"), got.ReadSingles("logits"), 512, "bitnet logits batch tiny/packed");
    }

    [TestCase("1,2;3", "equal length")]
    [TestCase("1,x,3", "'x' is not a token id")]
    [TestCase("1,-2", "'-2' is not a token id")]
    [TestCase("1,99999", "outside the vocabulary")]
    public void Logits_BadIds_OneErrorLine(string ids, string message)
    {
        var r = Run("logits", "-m", Fixture.TinyMaster.Path, "--ids", ids, "-o", Path.Combine(_temp, "x.safetensors"));
        AssertOneErrorLine(r, message);
        Assert.That(File.Exists(Path.Combine(_temp, "x.safetensors")), Is.False);
    }

    [Test]
    public async Task Generate_Greedy_PrintsTheSessionsContinuation()
    {
        var r = Run("generate", "-m", Fixture.TinyMaster.Path, "-p", "hello world", "-n", "12", "--temp", "0", "--threads", "1");
        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        Assert.That(r.Err, Does.Contain("tok/s"));

        using var model = BitNetModel.Load(Fixture.TinyMaster.Path);
        using var session = model.CreateSession(new SessionOptions { Threads = 1 });
        var text = new System.Text.StringBuilder();
        await foreach (string piece in session.GenerateAsync("hello world", new BitNet.Inference.Sampling.GenerationOptions { Temperature = 0, MaxTokens = 12 }))
            text.Append(piece);
        Assert.That(r.Out, Is.EqualTo(text + Environment.NewLine));
    }

    [Test]
    public void Generate_SameSeed_SameText()
    {
        string[] args = ["generate", "-m", Fixture.TinyPacked.Path, "-p", "the", "-n", "16", "--temp", "1.0", "--seed", "11", "--top-k", "0", "--min-p", "0"];
        var a = Run(args);
        var b = Run(args);
        Assert.That(a.Exit, Is.EqualTo(0), a.Err);
        Assert.That(b.Out, Is.EqualTo(a.Out));
    }

    [Test]
    public void Generate_BadTopP_OneErrorLine() =>
        AssertOneErrorLine(Run("generate", "-m", Fixture.TinyMaster.Path, "-p", "x", "--top-p", "0"), "--top-p");

    private static (int Exit, string Out, string Err) RunWithInput(string input, params string[] args)
    {
        using var stdin = new StringReader(input);
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int exit = CliApplication.Run(args, stdin, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    // tiny/master with <|eot_id|> added to its tokenizer as id 510 (the model's vocabulary has 512 rows, the tokenizer 510)
    private string ChatModel()
    {
        string dir = Path.Combine(_temp, "chat-model");
        Directory.CreateDirectory(dir);
        foreach (string f in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(Fixture.TinyMaster.Path, f), Path.Combine(dir, f));
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Fixture.TinyMaster.Path, "tokenizer.json")))!;
        json["added_tokens"]!.AsArray().Add(new System.Text.Json.Nodes.JsonObject
        {
            ["id"] = 510, ["content"] = "<|eot_id|>", ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
            ["normalized"] = false, ["special"] = true,
        });
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
        return dir;
    }

    [Test]
    public void Chat_TwoTurns_RepliesOnStdout_Reproducibly()
    {
        string model = ChatModel();
        string[] args = ["chat", "-m", model, "--temp", "0", "-n", "8", "--threads", "1", "--system", "be brief"];
        var a = RunWithInput("hello\nhow are you\n/exit\nignored\n", args);
        Assert.That(a.Exit, Is.EqualTo(0), a.Err);
        string[] replies = a.Out.Split('\n');
        Assert.That(replies, Has.Length.EqualTo(3), "one line per reply, then the final newline");
        Assert.That(a.Err, Does.Contain("context"));
        var b = RunWithInput("hello\nhow are you\n", args);
        Assert.That(b.Out, Is.EqualTo(a.Out), "greedy replies do not change between runs; end of input quits like /exit");

        // /reset forgets the first turn: the reply to "how are you" is then the first-turn reply to it
        var fresh = RunWithInput("how are you\n", args);
        var reset = RunWithInput("hello\n/reset\nhow are you\n", args);
        Assert.That(reset.Out.Split('\n')[1], Is.EqualTo(fresh.Out.Split('\n')[0]));
    }

    [Test]
    public void Chat_UsesTheModelsChatTemplate()
    {
        string model = ChatModel();
        string[] args = ["chat", "-m", model, "--temp", "0", "-n", "6", "--threads", "1"];
        var fallback = RunWithInput("hello\nhow are you\n", args);
        Assert.That(fallback.Exit, Is.EqualTo(0), fallback.Err);
        Assert.That(fallback.Err, Does.Contain("warning:").And.Contain("no chat template"));

        File.WriteAllText(Path.Combine(model, "tokenizer_config.json"), """
            { "chat_template": "{% for m in messages %}{{ m.role | upper }}> {{ m.content }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}ASSISTANT>{% endif %}" }
            """);
        var templated = RunWithInput("hello\nhow are you\n", args);
        Assert.That(templated.Exit, Is.EqualTo(0), templated.Err);
        Assert.That(templated.Err, Does.Not.Contain("warning:"));
        Assert.That(templated.Out.Split('\n'), Has.Length.EqualTo(3), "one line per reply, then the final newline");
        Assert.That(RunWithInput("hello\nhow are you\n", args).Out, Is.EqualTo(templated.Out), "greedy: reproducible");

        File.WriteAllText(Path.Combine(model, "tokenizer_config.json"), """{ "chat_template": "{% for m in messages %}" }""");
        AssertOneErrorLine(RunWithInput("hello\n", args), "'for' is never closed");
    }

    [Test]
    public void Chat_TokenizerWithoutEndOfTurn_OneErrorLine() =>
        AssertOneErrorLine(RunWithInput("hi\n", "chat", "-m", Fixture.TinyMaster.Path), "<|eot_id|>");
}
