using System.CommandLine;
using BitNet.Models;
using BitNet.Quantization;

namespace BitNet.Cli.Commands;

/// <summary>`bitnet convert IN -o OUT --type f32|f16|tq1_0|tq2_0|i2_s|hf-packed [--embedding-type f16|bf16|q8_0|q6_k]
/// [--i2s-layout x86|arm]` (CLI.md): OUT ending in .gguf is GGUF, anything else a Hugging Face folder. Ternary tensors
/// take --type, norms F32, the embedding --embedding-type (default f16). Written under a temporary name and renamed,
/// tensor by tensor, with a progress bar on stderr when it is a terminal and the work takes over a second. The layout
/// of IN's I2_S tensors is --input-i2s-layout, or detected (BitNetModel.Load) and logged.</summary>
internal static class ConvertCommand
{
    private static readonly string[] s_types = ["f32", "f16", "tq1_0", "tq2_0", "i2_s", "hf-packed"];
    private static readonly string[] s_embeddingTypes = ["f32", "f16", "bf16", "q8_0", "q6_k"];

    public static Command Create(CliContext cli)
    {
        var input = new Argument<string>("IN") { Description = "A GGUF file or a Hugging Face model folder" };
        var output = new Option<string>("--output", "-o") { Description = "OUT.gguf for GGUF; anything else: a Hugging Face folder", Required = true };
        var type = new Option<string>("--type") { Description = "Type of the ternary projections: " + string.Join(", ", s_types), Required = true };
        type.AcceptOnlyFromAmong(s_types);
        var embedding = new Option<string>("--embedding-type") { Description = "Type of the embedding / LM head", DefaultValueFactory = _ => "f16" };
        embedding.AcceptOnlyFromAmong(s_embeddingTypes);
        var layout = new Option<string?>("--i2s-layout") { Description = "I2_S layout to write (default: this machine's)" };
        layout.AcceptOnlyFromAmong("x86", "arm");
        var inputLayout = I2SLayoutOption.Create("--input-i2s-layout",
            "Layout of IN's I2_S tensors, if it has any (default: detected by running a probe text through both; this " +
            "machine's when that cannot decide)");
        var command = new Command("convert", "Convert a model between GGUF (TQ1_0, TQ2_0, I2_S, F16, F32) and the Hugging Face packed layout")
        {
            input, output, type, embedding, layout, inputLayout,
        };
        command.SetAction(parse =>
        {
            string inPath = parse.GetValue(input)!, outPath = parse.GetValue(output)!, t = parse.GetValue(type)!;
            EmbeddingType embeddingType = parse.GetValue(embedding) switch
            {
                "f32" => EmbeddingType.F32,
                "bf16" => EmbeddingType.BF16,
                "q8_0" => EmbeddingType.Q8_0,
                "q6_k" => EmbeddingType.Q6_K,
                _ => EmbeddingType.F16,
            };
            PackedFormat? i2s = parse.GetValue(layout) switch { "x86" => PackedFormat.I2SX86, "arm" => PackedFormat.I2SArm, _ => null };
            bool gguf = outPath.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase);
            if (gguf && t == "hf-packed") throw new CommandException("--type hf-packed writes a Hugging Face folder: give an OUT that does not end in .gguf");
            if (!gguf && t != "hf-packed")
                throw new CommandException($"--type {t} is a GGUF type: give an OUT ending in .gguf (a Hugging Face folder holds ternary weights as hf-packed)");
            if (i2s is not null && t != "i2_s") throw new CommandException("--i2s-layout applies to --type i2_s only");

            using var model = OpenInput(cli, inPath, I2SLayoutOption.Parse(parse.GetValue(inputLayout)));
            cli.Error.WriteLine($"converting {inPath} ({model.Layers.Count} layers, {(model.Layers.Count > 0 ? model.Layers[0].Q.StoredType : "-")}) to {t}");
            if (gguf)
            {
                var options = new GgufModelWriterOptions
                {
                    TernaryType = t switch
                    {
                        "f32" => TernaryFileType.F32,
                        "f16" => TernaryFileType.F16,
                        "tq1_0" => TernaryFileType.TQ1_0,
                        "tq2_0" => TernaryFileType.TQ2_0,
                        _ => TernaryFileType.I2_S,
                    },
                    EmbeddingType = embeddingType,
                    I2SLayout = i2s,
                };
                ProgressDisplay.Run(cli, Path.GetFileName(outPath), progress =>
                {
                    GgufModelWriter.Write(model, outPath, options, progress);
                    return true;
                });
            }
            else
            {
                if (embeddingType is EmbeddingType.Q8_0 or EmbeddingType.Q6_K)
                    throw new CommandException($"--embedding-type {parse.GetValue(embedding)}: a Hugging Face folder holds embeddings as f32, f16 or bf16");
                if (!ProgressDisplay.Run(cli, Path.GetFileName(outPath.TrimEnd('/', '\\')), progress => HfPackedModelWriter.Write(model, outPath, embeddingType, progress)))
                    cli.Error.WriteLine($"warning: {inPath} has no tokenizer.json to copy; {outPath} has none");
            }
            cli.Error.WriteLine($"wrote {outPath}");
            return ExitCodes.Success;
        });
        return command;
    }

    // IN with its I2_S layout settled: given, or probed by loading it to run (BitNetModel.Load), which is logged
    private static BitNetModelFile OpenInput(CliContext cli, string path, PackedFormat? layout)
    {
        var file = BitNetModelFile.Open(path, new ModelLoadOptions { I2SLayout = layout });
        if (!file.I2SLayoutAssumed) return file;
        file.Dispose();
        PackedFormat detected;
        using (var probe = I2SLayoutOption.Load(cli, path, null)) detected = probe.I2SLayout!.Layout;
        return BitNetModelFile.Open(path, new ModelLoadOptions { I2SLayout = detected });
    }
}
