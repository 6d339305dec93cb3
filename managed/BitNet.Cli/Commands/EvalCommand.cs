using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using BitNet.Inference;
using BitNet.Training;

namespace BitNet.Cli.Commands;

/// <summary>`bitnet eval -m MODEL --data FILE [--seq-len N] [--batch B] [--threads N] [--json]`: the perplexity of a text
/// file under the model, with the inference engine (<see cref="Perplexity"/>). The file is one document: the model's
/// tokenizer encodes it with BOS first; windows of --seq-len tokens (default min(512, context)) each start from an empty
/// cache. Prints <c>loss: X</c> and <c>perplexity: X</c>, or with --json one <see cref="EvalReport"/>; progress on stderr.</summary>
internal static class EvalCommand
{
    public static Command Create(CliContext cli)
    {
        var model = new Option<string>("--model", "-m") { Description = "A GGUF file or a Hugging Face model folder (with its tokenizer)", Required = true };
        var data = new Option<string>("--data") { Description = "A UTF-8 text file", Required = true };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per window (default: min(512, the model's context))" };
        var batch = new Option<int>("--batch") { Description = "Windows evaluated at once", DefaultValueFactory = _ => 1 };
        var threads = new Option<int?>("--threads", "-t") { Description = "Threads (default: one per physical core)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var command = new Command("eval", "Perplexity of a text file (mean next-token cross-entropy)") { model, data, seqLen, batch, threads, json };
        command.SetAction(parse =>
        {
            int l = parse.GetValue(seqLen), b = parse.GetValue(batch);
            int? threadCount = parse.GetValue(threads);
            if (l < 0) throw new CommandException("--seq-len must be at least 1");
            if (b < 1) throw new CommandException("--batch must be at least 1");
            if (threadCount is <= 0) throw new CommandException("--threads must be at least 1");
            string dataPath = parse.GetValue(data)!;
            if (!File.Exists(dataPath)) throw new CommandException($"--data: no such file: {dataPath}");
            string path = parse.GetValue(model)!;

            using var m = BitNetModel.Load(path);
            var tokenizer = m.Tokenizer ?? throw new CommandException($"{path} has no tokenizer (tokenizer.json beside it, or the GGUF tokenizer arrays)");
            if (tokenizer.BosId is null) throw new CommandException($"{path}: the tokenizer has no BOS token");
            if (l > m.Config.MaxPositionEmbeddings)
                throw new CommandException($"--seq-len {l} exceeds the model's max_position_embeddings {m.Config.MaxPositionEmbeddings}");
            int[] tokens = TextDataset.Tokenize(tokenizer, [File.ReadAllText(dataPath, Encoding.UTF8)]);
            if (tokens.Length < 2) throw new CommandException($"--data: {dataPath} is empty");
            if (tokens.Max() >= m.Config.VocabSize)
                throw new CommandException($"the tokenizer makes id {tokens.Max()}, outside the model's vocabulary of {m.Config.VocabSize}");

            var clock = Stopwatch.StartNew();
            var lastReport = TimeSpan.Zero;
            var gate = new object();
            var result = Perplexity.Evaluate(m, tokens, new PerplexityOptions
            {
                SequenceLength = l,
                Batch = b,
                Threads = threadCount,
                Progress = (done, all) =>
                {
                    lock (gate)
                    {
                        if (done < all && clock.Elapsed - lastReport < TimeSpan.FromSeconds(2)) return;
                        lastReport = clock.Elapsed;
                        cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"eval: {done}/{all} windows, {clock.Elapsed.TotalSeconds:F1} s"));
                    }
                },
            });
            cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"eval: {result.Tokens} tokens in {result.Windows} windows of {result.SequenceLength}, {result.Tokens / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):F1} tok/s"));
            if (parse.GetValue(json))
            {
                var report = new EvalReport(path, result.Tokens, result.Loss, result.Value);
                cli.Out.WriteLine(JsonSerializer.Serialize(report, CliJsonContext.Default.EvalReport));
            }
            else
            {
                cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"loss: {result.Loss:F6}"));
                cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"perplexity: {result.Value:F4}"));
            }
            return ExitCodes.Success;
        });
        return command;
    }
}

/// <summary>`bitnet eval --json`: the model, the targets scored, the mean cross-entropy (nats) and its exponential.</summary>
internal sealed record EvalReport(string Model, long Tokens, double Loss, double Perplexity);
