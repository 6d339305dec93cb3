using System.CommandLine;
using System.Globalization;
using BitNet.Inference;
using BitNet.Inference.Sampling;

namespace BitNet.Cli.Commands;

/// <summary>`bitnet generate -m PATH -p TEXT [-n 64] [--temp 0.8] [--top-k 40] [--top-p 0.95] [--min-p 0.05] [--seed S]
/// [--threads N]` (CLI.md): streams the prompt's continuation to stdout, timings to stderr. <c>--temp 0</c> is greedy.</summary>
internal static class GenerateCommand
{
    public static Command Create(CliContext cli)
    {
        var d = GenerationOptions.Default;
        var model = new Option<string>("--model", "-m") { Description = "A GGUF file or a Hugging Face model folder (with a tokenizer)", Required = true };
        var prompt = new Option<string>("--prompt", "-p") { Description = "The prompt (BOS is added when the tokenizer has one)", Required = true };
        var count = new Option<int>("-n", "--n-predict") { Description = "Tokens to generate", DefaultValueFactory = _ => d.MaxTokens };
        var temp = new Option<float>("--temp") { Description = "Temperature (0: greedy)", DefaultValueFactory = _ => d.Temperature };
        var topK = new Option<int>("--top-k") { Description = "Top-k (0: off)", DefaultValueFactory = _ => d.TopK };
        var topP = new Option<float>("--top-p") { Description = "Top-p (1: off)", DefaultValueFactory = _ => d.TopP };
        var minP = new Option<float>("--min-p") { Description = "Min-p (0: off)", DefaultValueFactory = _ => d.MinP };
        var repeat = new Option<float>("--repeat-penalty") { Description = "Repetition penalty (1: off)", DefaultValueFactory = _ => d.RepetitionPenalty };
        var seed = new Option<ulong?>("--seed") { Description = "Sampler seed (default: random)" };
        var threads = new Option<int?>("--threads") { Description = "Threads (default: one per physical core)" };
        var layout = I2SLayoutOption.Create();
        var command = new Command("generate", "Continue a prompt; the text goes to stdout, timings to stderr")
        {
            model, prompt, count, temp, topK, topP, minP, repeat, seed, threads, layout,
        };
        command.SetAction(async (parse, ct) =>
        {
            int n = parse.GetValue(count);
            if (n < 0) throw new CommandException("-n must be 0 or more");
            float t = parse.GetValue(temp), p = parse.GetValue(topP), mp = parse.GetValue(minP);
            if (!(t >= 0)) throw new CommandException("--temp must be 0 or more");
            if (!(p > 0 && p <= 1)) throw new CommandException("--top-p must be in (0, 1]");
            if (!(mp >= 0 && mp <= 1)) throw new CommandException("--min-p must be in [0, 1]");
            int? threadCount = parse.GetValue(threads);
            if (threadCount is <= 0) throw new CommandException("--threads must be at least 1");
            using var m = I2SLayoutOption.Load(cli, parse.GetValue(model)!, parse.GetValue(layout));
            if (m.Tokenizer is null) throw new CommandException($"{m.File.Path} has no tokenizer (tokenizer.json or GGUF tokenizer metadata)");
            using var session = m.CreateSession(new SessionOptions { Threads = threadCount });
            var options = new GenerationOptions
            {
                MaxTokens = n, Temperature = t, TopK = parse.GetValue(topK), TopP = p, MinP = mp,
                RepetitionPenalty = parse.GetValue(repeat), Seed = parse.GetValue(seed),
            };
            await foreach (string piece in session.GenerateAsync(parse.GetValue(prompt)!, options, ct))
            {
                cli.Out.Write(piece);
                cli.Out.Flush();
            }
            cli.Out.WriteLine();
            GenerationResult r = session.LastResult!;
            cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"prompt {r.PromptTokens} tokens, {r.PrefillTokensPerSecond:F1} tok/s; generated {r.GeneratedTokens} tokens, {r.DecodeTokensPerSecond:F1} tok/s; stop: {r.StopReason}; seed {r.Seed}; threads {session.Threads}"));
            return ExitCodes.Success;
        });
        return command;
    }
}
