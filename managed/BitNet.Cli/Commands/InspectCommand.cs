using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using BitNet.Models;
using Spectre.Console;

namespace BitNet.Cli.Commands;

/// <summary>`bitnet inspect MODEL [--json]`: the file's metadata, the model's configuration and every tensor with its
/// stored type, shape and bytes. Opening checks the model's structure (a broken header, a missing tensor or a wrong
/// shape fails with the loader's error) but reads no tensor data: listing a 2B4T model touches only its metadata.</summary>
internal static class InspectCommand
{
    /// <summary>Metadata strings longer than this are cut in tables (a chat template, say); --json keeps them whole.</summary>
    private const int MaxValueLength = 120;

    public static Command Create(CliContext cli)
    {
        var model = new Argument<string>("MODEL") { Description = "A GGUF file or a Hugging Face model folder" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of tables" };
        var command = new Command("inspect", "Show a model's metadata, configuration and tensors") { model, json };
        command.SetAction(parse =>
        {
            using var file = BitNetModelFile.Open(parse.GetValue(model)!);
            InspectReport report = Collect(file);
            if (parse.GetValue(json)) cli.Out.WriteLine(JsonSerializer.Serialize(report, CliJsonContext.Default.InspectReport));
            else Render(cli.Console, report);
            return ExitCodes.Success;
        });
        return command;
    }

    internal static InspectReport Collect(BitNetModelFile m)
    {
        ModelConfig c = m.Config;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in m.Metadata) metadata[k] = v;
        var projections = m.Layers.Count > 0 ? m.Layers[0].Projections : [];
        var config = new InspectConfig(
            c.HiddenSize, c.IntermediateSize, c.LayerCount, c.HeadCount, c.KeyValueHeadCount, c.HeadDimension, c.VocabSize,
            c.RmsNormEpsilon, c.RopeTheta, c.MaxPositionEmbeddings, c.BosTokenId, c.EosTokenIds,
            c.Activation == FfnActivation.ReluSquared ? "relu2" : "silu", c.ActivationSource, c.TieWordEmbeddings,
            c.Quantization?.LinearClass.ToString().ToLowerInvariant(), c.Quantization?.Mode.ToString().ToLowerInvariant(),
            projections.Count > 0 ? projections[0].StoredType : "none");
        var tensors = m.Tensors.Select(t => new InspectTensor(t.Name, t.Type, t.Shape, t.ByteLength)).ToList();
        InspectTokenizer? tokenizer = m.Tokenizer is { } tok ? new InspectTokenizer(tok.VocabSize, tok.BosId, tok.EosId) : null;
        return new InspectReport(m.Path, m.Format == ModelFileFormat.Gguf ? "gguf" : "huggingface", config, metadata, tensors,
            tensors.Sum(t => t.Bytes), tokenizer);
    }

    private static void Render(IAnsiConsole console, InspectReport r)
    {
        var model = KeyValueTable("Model");
        AddRow(model, "path", r.Path);
        AddRow(model, "format", r.Format);
        AddRow(model, "tensors", $"{r.Tensors.Count}, {Bytes(r.TotalBytes)}");
        AddRow(model, "tokenizer", r.Tokenizer is { } tk ? $"{tk.VocabSize} tokens, bos {Id(tk.BosId)}, eos {Id(tk.EosId)}" : "none");
        console.Write(model);

        InspectConfig c = r.Config;
        var config = KeyValueTable("Config");
        AddRow(config, "hidden_size", Num(c.HiddenSize));
        AddRow(config, "intermediate_size", Num(c.IntermediateSize));
        AddRow(config, "num_hidden_layers", Num(c.NumHiddenLayers));
        AddRow(config, "attention heads / kv heads / head dim", $"{c.NumAttentionHeads} / {c.NumKeyValueHeads} / {c.HeadDim}");
        AddRow(config, "vocab_size", Num(c.VocabSize));
        AddRow(config, "rms_norm_eps", c.RmsNormEps.ToString("R", CultureInfo.InvariantCulture));
        AddRow(config, "rope_theta", c.RopeTheta.ToString("R", CultureInfo.InvariantCulture));
        AddRow(config, "max_position_embeddings", Num(c.MaxPositionEmbeddings));
        AddRow(config, "bos / eos", $"{Id(c.BosTokenId)} / {(c.EosTokenIds.Count == 0 ? "none" : string.Join(", ", c.EosTokenIds))}");
        AddRow(config, "hidden_act", $"{c.HiddenAct} ({c.HiddenActSource})");
        AddRow(config, "tie_word_embeddings", c.TieWordEmbeddings ? "true" : "false");
        if (c.LinearClass is not null) AddRow(config, "quantization", $"{c.LinearClass}, {c.QuantizationMode}");
        AddRow(config, "projections", c.ProjectionType);
        console.Write(config);

        if (r.Metadata.Count > 0)
        {
            var meta = KeyValueTable("Metadata");
            foreach (var (k, v) in r.Metadata)
                AddRow(meta, k, v.Length > MaxValueLength ? v[..MaxValueLength] + $"… ({v.Length} chars)" : v);
            console.Write(meta);
        }

        var tensors = new Table { Title = new TableTitle("Tensors"), Border = TableBorder.Rounded };
        tensors.AddColumn("name");
        tensors.AddColumn("type");
        tensors.AddColumn("shape");
        tensors.AddColumn(new TableColumn("bytes").RightAligned());
        foreach (InspectTensor t in r.Tensors)
            tensors.AddRow(new Text(t.Name), new Text(t.Type, new Style(Color.Green)), new Text("[" + string.Join(", ", t.Shape) + "]"),
                new Text(t.Bytes.ToString("N0", CultureInfo.InvariantCulture)));
        tensors.Caption = new TableTitle($"{r.Tensors.Count} tensors, {r.TotalBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes");
        console.Write(tensors);
    }

    private static Table KeyValueTable(string title)
    {
        var table = new Table { Title = new TableTitle(title), Border = TableBorder.Rounded, ShowHeaders = false };
        table.AddColumn("key");
        table.AddColumn("value");
        return table;
    }

    private static void AddRow(Table table, string key, string value) =>
        table.AddRow(new Text(key, new Style(decoration: Decoration.Bold)), new Text(value));

    private static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Id(int? id) => id?.ToString(CultureInfo.InvariantCulture) ?? "none";

    private static string Bytes(long n) => n switch
    {
        >= 1L << 30 => $"{n / (double)(1L << 30):0.##} GiB",
        >= 1L << 20 => $"{n / (double)(1L << 20):0.##} MiB",
        >= 1L << 10 => $"{n / 1024.0:0.#} KiB",
        _ => $"{n} B",
    };
}
