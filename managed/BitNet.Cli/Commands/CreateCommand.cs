using System.CommandLine;
using System.Diagnostics;
using BitNet.Models;
using BitNet.Tokenization;

namespace BitNet.Cli.Commands;

/// <summary>`bitnet create --preset 2b4t|tiny --random [--type tq2_0|tq1_0|i2_s|f16] [--embedding-type q6_k|f16]
/// [--seed S] [--tokenizer PATH] -o OUT.gguf` (CLI.md): a GGUF model of a preset's exact shape with random ternary
/// weights and the Llama-3 tokenizer (<see cref="RandomModelWriter"/>). Written under a temporary name and renamed;
/// a progress bar on stderr when it is a terminal and writing takes over a second (<see cref="ProgressDisplay"/>).</summary>
internal static class CreateCommand
{
    private static readonly string[] s_types = ["tq2_0", "tq1_0", "i2_s", "f16"];
    private static readonly string[] s_embeddingTypes = ["q6_k", "f16"];

    /// <summary>Where the Llama-3 tokenizer.json is looked for when --tokenizer is not given: this variable, then
    /// build/tokenizers/llama3/tokenizer.json (where build.sh fetches it) in the current folder, the executable's folder
    /// or a folder above either.</summary>
    internal const string TokenizerVariable = "BITNET_LLAMA3_TOKENIZER";

    public static Command Create(CliContext cli)
    {
        var preset = new Option<string>("--preset")
        {
            Description = "2b4t: bitnet-b1.58-2B-4T's shape (hidden 2560, 30 layers, 20/5 heads, FFN 6912); tiny: hidden 256, " +
                "2 layers, 4/2 heads, FFN 768. Both use the Llama-3 tokenizer, so both have vocabulary 128256",
            Required = true,
        };
        preset.AcceptOnlyFromAmong([.. ModelPresets.Names]);
        var random = new Option<bool>("--random") { Description = "Random weights (required: the only kind create makes)", Required = true };
        var type = new Option<string>("--type") { Description = "Type of the ternary projections", DefaultValueFactory = _ => "tq2_0" };
        type.AcceptOnlyFromAmong(s_types);
        var embedding = new Option<string>("--embedding-type")
        {
            Description = "Type of the tied embedding (q6_k, as llama-quantize writes it)",
            DefaultValueFactory = _ => "q6_k",
        };
        embedding.AcceptOnlyFromAmong(s_embeddingTypes);
        var seed = new Option<ulong>("--seed") { Description = "Seed: the same seed gives the same file", DefaultValueFactory = _ => 0 };
        var tokenizerPath = new Option<string?>("--tokenizer")
        {
            Description = $"The Llama-3 tokenizer.json (default: ${TokenizerVariable}, else build/tokenizers/llama3/tokenizer.json " +
                "in or above the current or the executable's folder, where build.sh fetches it)",
        };
        var output = new Option<string>("--output", "-o") { Description = "OUT.gguf", Required = true };
        var command = new Command("create", "Create a GGUF model of a known shape with random ternary weights (uniform -1/0/+1, " +
            "one scale per tensor in [0.02, 0.05]), norms in [0.9, 1.1], an N(0, 0.02) embedding and the Llama-3 tokenizer")
        {
            preset, random, type, embedding, seed, tokenizerPath, output,
        };
        command.SetAction(parse =>
        {
            string presetName = parse.GetValue(preset)!, outPath = parse.GetValue(output)!;
            if (!parse.GetValue(random)) throw new CommandException("--random is required: create makes random models only");
            if (!outPath.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) throw new CommandException($"-o {outPath}: create writes GGUF; give a name ending in .gguf");
            ModelConfig config = ModelPresets.Get(presetName)!;
            var options = new RandomModelOptions
            {
                TernaryType = parse.GetValue(type) switch
                {
                    "tq1_0" => TernaryFileType.TQ1_0,
                    "i2_s" => TernaryFileType.I2_S,
                    "f16" => TernaryFileType.F16,
                    _ => TernaryFileType.TQ2_0,
                },
                EmbeddingType = parse.GetValue(embedding) == "f16" ? EmbeddingType.F16 : EmbeddingType.Q6_K,
                Seed = parse.GetValue(seed),
                Name = $"bitnet-{presetName}-random-seed{parse.GetValue(seed)}",
            };
            string tokPath = parse.GetValue(tokenizerPath) ?? FindTokenizer()
                ?? throw new CommandException($"no Llama-3 tokenizer.json: pass --tokenizer PATH, set {TokenizerVariable}, or run " +
                    "bench/tokenizer-reference/fetch-llama3.sh (build.sh does) to fetch it to build/tokenizers/llama3/");
            BpeTokenizer tokenizer = BpeTokenizer.FromFile(tokPath, config.BosTokenId, config.EosTokenIds[0]);
            if (tokenizer.VocabSize != config.VocabSize || tokenizer.TokenToId("<|begin_of_text|>") != config.BosTokenId)
                throw new CommandException($"{tokPath} is not the Llama-3 tokenizer ({tokenizer.VocabSize} tokens, {config.VocabSize} expected, " +
                    $"<|begin_of_text|> = {config.BosTokenId})");

            cli.Error.WriteLine($"creating {presetName} (hidden {config.HiddenSize}, {config.LayerCount} layers, FFN {config.IntermediateSize}, " +
                $"vocab {config.VocabSize}) with random {parse.GetValue(type)} weights, {parse.GetValue(embedding)} embedding, seed {options.Seed}");
            var clock = Stopwatch.StartNew();
            long size = ProgressDisplay.Run(cli, Path.GetFileName(outPath), progress => RandomModelWriter.Write(config, tokenizer, outPath, options, progress));
            cli.Error.WriteLine($"wrote {outPath} ({size / 1e6:F1} MB) in {clock.Elapsed.TotalSeconds:F1} s");
            return ExitCodes.Success;
        });
        return command;
    }

    private static string? FindTokenizer()
    {
        if (Environment.GetEnvironmentVariable(TokenizerVariable) is { Length: > 0 } env) return env;
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "build", "tokenizers", "llama3", "tokenizer.json");
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }
}
